#!/usr/bin/env python3
"""What the time a server spends on each message costs a pair, at 64 calls
in flight, and where cort's node sits on that curve.

Starts one C echo server (cort-echo-server) per --work value, each spending
that many nanoseconds of its thread's CPU on every message
(CORT_ECHO_WORK_NS), and a cort-bench-node (the README's defaults). In each
round, in an order that alternates, the C caller (cort-probe
cecho-remote-window, or cnode-window for the node) runs against each. The
servers are alike in everything but that time, so the curve shows what it
alone costs: libzmq's I/O threads on both sides work more per call when
messages come and go one at a time instead of in bursts.

For the cort node it also reads, from /proc, the CPU each of the node's
threads spent per call (user + system), and its context switches.

Each time per call is divided by that of the server without work in the
same round; medians over rounds are printed. Build first:

    swift build -c release --product cort-probe
    swift build -c release --product cort-bench-node
    swift build -c release --product cort-echo-server
    scripts/server-time.py --rounds 5
"""
import argparse
import importlib.util
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("probe_ratios", os.path.join(HERE, "probe-ratios.py"))
probe_ratios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe_ratios)
RELEASE = probe_ratios.RELEASE
_spec = importlib.util.spec_from_file_location("threads", os.path.join(HERE, "threads.py"))
threads = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", default="0,1500,3000,4500,6000",
                        help="nanoseconds per message, comma-separated; the first is the baseline")
    parser.add_argument("--calls", type=int, default=100000, help="calls per run against the baseline")
    parser.add_argument("--port", type=int, default=47740, help="first of the loopback ports used")
    arguments = parser.parse_args()
    works = [int(value) for value in arguments.work.split(",")]

    probe = os.path.join(RELEASE, "cort-probe")
    servers = {}
    try:
        for index, work in enumerate(works):
            command = [os.path.join(RELEASE, "cort-echo-server"), f"tcp://127.0.0.1:{arguments.port + index}"]
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True,
                                       env=dict(os.environ, CORT_ECHO_WORK_NS=str(work)))
            line = process.stdout.readline().split()
            if len(line) < 2 or line[0] != "ready":
                raise SystemExit(f"cort-echo-server did not start: {line}")
            servers[work] = (process, line[1])
        servers["node"] = probe_ratios.start([os.path.join(RELEASE, "cort-bench-node"),
                                              f"tcp://127.0.0.1:{arguments.port + len(works)}", "4"])
        node_pid = servers["node"][0].pid
        hertz = os.sysconf("SC_CLK_TCK")
        times = {key: [] for key in servers}
        node_threads = {}
        rows = list(servers)
        for round_number in range(arguments.rounds):
            for key in (rows if round_number % 2 == 0 else rows[::-1]):
                # Fewer calls against a slower server, so that each run takes about as long.
                slowest = 6000 if key == "node" else key
                count = max(int(arguments.calls * 3000 / (slowest + 3000)), 2000)
                environment = dict(os.environ)
                if key == "node":
                    environment["CORT_BENCH_NODE"] = servers[key][1]
                    before = threads.snapshot(node_pid)
                    times[key].append(probe_ratios.run(probe, "cnode-window", count, environment)[0])
                    for name, values in threads.by_name(before, threads.snapshot(node_pid)).items():
                        row = node_threads.setdefault(name, [0, 0, 0, 0, 0])
                        for index in range(4):
                            row[index] += values[index]
                        row[4] += count
                else:
                    environment["CORT_BENCH_ECHO"] = servers[key][1]
                    times[key].append(probe_ratios.run(probe, "cecho-remote-window", count, environment)[0])
            print(f"round {round_number + 1} done", flush=True)
    finally:
        probe_ratios.stop(servers)

    baseline = times[works[0]]
    print(f"64 in flight, C caller; C echo without work: median {statistics.median(baseline):.2f} µs per call")
    for key in rows[1:]:
        ratios = [base / time for time, base in zip(times[key], baseline)]
        name = "cort node (defaults)" if key == "node" else f"C echo, {key} ns a message"
        print(f"  {name}: median {statistics.median(times[key]):.2f} µs per call, "
              f"{100 * statistics.median(ratios):.1f} % of the C echo's throughput "
              f"({', '.join(f'{100 * ratio:.0f}' for ratio in ratios)})")
    print("  cort node, per call, by thread (all rounds):")
    for name, (user, system, voluntary, involuntary, calls) in sorted(node_threads.items(),
                                                                       key=lambda item: -(item[1][0] + item[1][1])):
        if user + system == 0 and voluntary < calls / 100:
            continue
        print(f"    {name}: user {user / hertz * 1e6 / calls:.2f} µs, system {system / hertz * 1e6 / calls:.2f} µs, "
              f"context switches {voluntary / calls:.3f} voluntary, {involuntary / calls:.3f} involuntary")


if __name__ == "__main__":
    main()
