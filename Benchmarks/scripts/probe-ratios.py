#!/usr/bin/env python3
"""Interleaved rounds of typed calls and the C echo, through cort-probe.

Starts a cort-bench-node (the README's defaults: 4 replicas) and a
cort-echo-server, then runs, round after round, each workload against both,
alternating which goes first:

- one call in flight (`calls-latency` / `cecho-remote-latency`): time per
  call, p50 and p99;
- 64 in flight (`calls-window` / `cecho-remote-window`) and 256 in flight
  (`calls-window-256` / `cecho-remote-window-256`): time per call, whose
  inverse is the throughput.

The headline row, "cort", is the caller with the defaults; OPTION_ROWS adds
the same caller with an option changed (CORT_BENCH_ANSWER_POLLING=0: no
polling for answers before the reactor sleeps), against the same node.

Each round's ratio cort / C is taken inside the round; the median over rounds
is printed. --cpus LIST runs every process (servers and probes) on those
CPUs only (`taskset -c LIST`): with `--cpus 0`, both sides of each pair share
one CPU, so a call's time is the CPU all its threads spend on it, without the
wake-ups of idle CPUs that two CPUs add. --base DIR adds another build of the benchmarks (its
.build/release directory, for instance a checkout of an older commit) as a
third column, with the ratio new / base. Build first:

    swift build -c release --product cort-probe
    swift build -c release --product cort-bench-node
    swift build -c release --product cort-echo-server
    scripts/probe-ratios.py --rounds 5
"""
import argparse
import os
import re
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE = os.path.join(HERE, "..", ".build", "release")
MODES = [("one in flight", 5000), ("64 in flight", 50000), ("256 in flight", 50000)]
# Rows of this build's caller with an option other than the default, beside
# the headline row ("cort", the defaults), against the same node.
OPTION_ROWS = {
    "cort, answerPolling .zero": {"CORT_BENCH_ANSWER_POLLING": "0"},
}
WORKLOADS = {
    "one in flight": ("calls-latency", "cecho-remote-latency"),
    "64 in flight": ("calls-window", "cecho-remote-window"),
    "256 in flight": ("calls-window-256", "cecho-remote-window-256"),
}


PIN = []


def start(command):
    command = PIN + command
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline().split()
    if len(line) < 2 or line[0] != "ready":
        raise SystemExit(f"{command[0]} did not start: {line}")
    return process, line[1]


def stop(servers):
    """Ends the servers `start` started (their standard input closes too)."""
    for process, _ in servers.values():
        process.stdin.close()
        process.terminate()


def run(probe, workload, count, environment):
    output = subprocess.run(PIN + [probe, workload, str(count)], env=environment, capture_output=True, text=True,
                            check=True).stdout
    mean = re.search(r"([0-9.e-]+) seconds per call", output)
    latency = re.search(r"p50 ([0-9.]+) µs, p99 ([0-9.]+) µs", output)
    return (float(mean.group(1)) * 1e6,
            float(latency.group(1)) if latency else None,
            float(latency.group(2)) if latency else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", help="another build's .build/release directory, measured beside this one")
    parser.add_argument("--port", type=int, default=47700, help="first of the loopback ports used")
    parser.add_argument("--cpus", help="run every process on these CPUs only (taskset -c), e.g. 0")
    arguments = parser.parse_args()
    if arguments.cpus:
        PIN.extend(["taskset", "-c", arguments.cpus])

    builds = {"cort": RELEASE}
    if arguments.base:
        builds["base"] = arguments.base
    servers = {}
    try:
        for offset, (name, directory) in enumerate(builds.items()):
            servers[name] = start([os.path.join(directory, "cort-bench-node"),
                                   f"tcp://127.0.0.1:{arguments.port + offset}", "4"])
        servers["C"] = start([os.path.join(RELEASE, "cort-echo-server"), f"tcp://127.0.0.1:{arguments.port + 9}"])
        # The base times each call as this build does when its probe can
        # (a probe from before calls-latency cannot: it makes plain calls).
        base_times_each = False
        if "base" in builds:
            environment = dict(os.environ, CORT_BENCH_NODE=servers["base"][1])
            base_times_each = subprocess.run([os.path.join(builds["base"], "cort-probe"), "calls-latency", "10"],
                                             env=environment, capture_output=True).returncode == 0
        results = {}
        kinds = list(builds) + list(OPTION_ROWS) + ["C"]
        for round_number in range(arguments.rounds):
            for mode, count in MODES:
                order = kinds if round_number % 2 == 0 else kinds[::-1]
                for kind in order:
                    typed, baseline = WORKLOADS[mode]
                    environment = dict(os.environ)
                    if kind == "C":
                        probe, workload = os.path.join(RELEASE, "cort-probe"), baseline
                        environment["CORT_BENCH_ECHO"] = servers["C"][1]
                    elif kind in OPTION_ROWS:
                        probe, workload = os.path.join(RELEASE, "cort-probe"), typed
                        environment["CORT_BENCH_NODE"] = servers["cort"][1]
                        environment.update(OPTION_ROWS[kind])
                    else:
                        probe, workload = os.path.join(builds[kind], "cort-probe"), typed
                        environment["CORT_BENCH_NODE"] = servers[kind][1]
                        if kind == "base" and mode == "one in flight" and not base_times_each:
                            workload = "calls"
                    results.setdefault((kind, mode), []).append(run(probe, workload, count, environment))
            print(f"round {round_number + 1} done", flush=True)
    finally:
        stop(servers)

    for mode, _ in MODES:
        c = results[("C", mode)]
        print(f"{mode}: C echo, median {statistics.median(x[0] for x in c):.1f} µs per call")
        for kind in list(builds) + list(OPTION_ROWS):
            rows = results[(kind, mode)]
            ratios = [a[0] / b[0] for a, b in zip(rows, c)]
            median = statistics.median(ratios)
            print(f"  {kind}: median {statistics.median(x[0] for x in rows):.1f} µs per call; / C per round "
                  f"{', '.join(f'{r:.2f}' for r in ratios)}; median {median:.2f} (throughput {100 / median:.1f} % of C)")
        if mode == "one in flight":
            for kind in ["cort"] + list(OPTION_ROWS):
                for index, name in ((1, "p50"), (2, "p99")):
                    rows = results[(kind, mode)]
                    ratios = [a[index] / b[index] for a, b in zip(rows, c) if a[index] and b[index]]
                    print(f"  {kind} {name} / C {name} per round {', '.join(f'{r:.2f}' for r in ratios)}; "
                          f"median {statistics.median(ratios):.2f}")
        if "base" in builds:
            ratios = [a[0] / b[0] for a, b in zip(results[("cort", mode)], results[("base", mode)])]
            print(f"  cort / base per round {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
