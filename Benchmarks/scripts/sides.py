#!/usr/bin/env python3
"""Which side of a typed call costs what: cort's caller and cort's node, each
paired with a C counterpart, interleaved round by round.

Starts a cort-bench-node (the README's defaults: `Echo` on 4 replicas on the
reactor), a cort-echo-server (the C echo) and a cort-echo-server in `cort`
mode (a C server that answers as a node hosting `Echo`: pongs and replies,
nothing else), then runs every pairing in each round, in an order that
alternates between rounds:

| pairing | one in flight | 64 in flight |
| --- | --- | --- |
| C caller, C echo (the baseline) | cecho-remote-latency | cecho-remote-window |
| C caller, cort node | cnode-latency | cnode-window |
| cort caller, C node | calls-latency | calls-window |
| cort caller, cort node (the defaults) | calls-latency | calls-window |
| cort caller on its reactor, cort node | - | calls-window-on-reactor |
| prototype caller (LeanCaller), C node | lean-latency | lean-window |
| prototype caller (LeanCaller), cort node | lean-latency | lean-window |

Each pairing's time per call is divided by the baseline's in the same round;
the median over rounds is printed, with p50 and p99 at one in flight. Build
first:

    swift build -c release --product cort-probe
    swift build -c release --product cort-bench-node
    swift build -c release --product cort-echo-server
    scripts/sides.py --rounds 5
"""
import argparse
import importlib.util
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("probe_ratios", os.path.join(HERE, "probe-ratios.py"))
probe_ratios = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe_ratios)
RELEASE = probe_ratios.RELEASE

# (pairing, server, workload at one in flight, workload at 64 in flight)
PAIRINGS = [
    ("C caller, C echo", "echo", "cecho-remote-latency", "cecho-remote-window"),
    ("C caller, cort node", "node", "cnode-latency", "cnode-window"),
    ("cort caller, C node", "cnode", "calls-latency", "calls-window"),
    ("cort caller, cort node", "node", "calls-latency", "calls-window"),
    ("cort caller on reactor, cort node", "node", None, "calls-window-on-reactor"),
    # The prototype caller of issue 11's notes (one lock, one continuation;
    # BenchmarkSupport/LeanCaller.swift): what that design would cost.
    ("lean prototype caller, C node", "cnode", "lean-latency", "lean-window"),
    ("lean prototype caller, cort node", "node", "lean-latency", "lean-window"),
]
MODES = [("one in flight", 5000), ("64 in flight", 50000)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=47720, help="first of the loopback ports used")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the calls per run")
    arguments = parser.parse_args()

    probe = os.path.join(RELEASE, "cort-probe")
    servers = {}
    try:
        servers["node"] = probe_ratios.start([os.path.join(RELEASE, "cort-bench-node"),
                                              f"tcp://127.0.0.1:{arguments.port}", "4"])
        servers["echo"] = probe_ratios.start([os.path.join(RELEASE, "cort-echo-server"),
                                              f"tcp://127.0.0.1:{arguments.port + 1}"])
        servers["cnode"] = probe_ratios.start([os.path.join(RELEASE, "cort-echo-server"),
                                               f"tcp://127.0.0.1:{arguments.port + 2}", "cort"])
        results = {}
        for round_number in range(arguments.rounds):
            for mode_index, (mode, count) in enumerate(MODES):
                order = PAIRINGS if round_number % 2 == 0 else PAIRINGS[::-1]
                for pairing, server, *workloads in order:
                    workload = workloads[mode_index]
                    if workload is None:
                        continue
                    environment = dict(os.environ)
                    environment["CORT_BENCH_ECHO" if server == "echo" else "CORT_BENCH_NODE"] = servers[server][1]
                    results.setdefault((pairing, mode), []).append(
                        probe_ratios.run(probe, workload, int(count * arguments.scale), environment))
            print(f"round {round_number + 1} done", flush=True)
    finally:
        probe_ratios.stop(servers)

    for mode, _ in MODES:
        baseline = results[(PAIRINGS[0][0], mode)]
        print(f"{mode}: C caller, C echo: median {statistics.median(x[0] for x in baseline):.1f} µs per call")
        for pairing, *_ in PAIRINGS[1:]:
            rows = results.get((pairing, mode))
            if not rows:
                continue
            ratios = [a[0] / b[0] for a, b in zip(rows, baseline)]
            median = statistics.median(ratios)
            line = (f"  {pairing}: median {statistics.median(x[0] for x in rows):.1f} µs per call; / C "
                    f"{', '.join(f'{r:.2f}' for r in ratios)}; median {median:.2f} (throughput {100 / median:.1f} %)")
            for index, name in ((1, "p50"), (2, "p99")):
                percentiles = [a[index] / b[index] for a, b in zip(rows, baseline) if a[index] and b[index]]
                if percentiles:
                    line += f"; {name} / C {statistics.median(percentiles):.2f}"
            print(line)


if __name__ == "__main__":
    main()
