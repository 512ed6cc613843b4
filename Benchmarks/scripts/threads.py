#!/usr/bin/env python3
"""CPU and context switches per call, by thread, of both sides of typed calls.

Starts a cort-bench-node (the README's defaults), warms it up, runs
`cort-probe WORKLOAD N` against it and reads /proc for each thread of both
processes around the run (the probe's from a short while after it starts
until it ends): user and system CPU time per call and voluntary and
involuntary context switches per call, by thread name (the probe's global
pool threads, its reactor, libzmq's I/O thread; the node's reactor and I/O
thread). /proc counts in clock ticks (10 ms), so use runs of a second or
more. Build first (release): cort-probe, cort-bench-node.

    scripts/threads.py [WORKLOAD] [N]      # calls-window 200000 by default
"""
import os
import random
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE = os.environ.get("CORT_BENCH_BIN", os.path.join(HERE, "..", ".build", "release"))


def snapshot(pid):
    """{thread id: (name, user ticks, system ticks, voluntary, involuntary)}."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat_file:
                stat = stat_file.read()
            with open(f"/proc/{pid}/task/{tid}/status") as status_file:
                status = status_file.read()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rindex(")") + 2:].split()
        threads[tid] = (stat[stat.index("(") + 1:stat.rindex(")")], int(fields[11]), int(fields[12]),
                        int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1)),
                        int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1)))
    return threads


def by_name(before, after):
    totals = {}
    for tid, (name, *values) in after.items():
        old = before.get(tid, (name, 0, 0, 0, 0))[1:]
        row = totals.setdefault(name, [0, 0, 0, 0])
        for index, value in enumerate(values):
            row[index] += value - old[index]
    return totals


def main():
    workload = sys.argv[1] if len(sys.argv) > 1 else "calls-window"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    endpoint = f"tcp://127.0.0.1:{48000 + random.randint(0, 900)}"
    node = subprocess.Popen([os.path.join(RELEASE, "cort-bench-node"), endpoint, "4"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        if not node.stdout.readline().startswith("ready"):
            raise SystemExit("cort-bench-node did not start")
        environment = dict(os.environ, CORT_BENCH_NODE=endpoint)
        subprocess.run([os.path.join(RELEASE, "cort-probe"), workload, "3000"], env=environment,
                       capture_output=True, check=True)
        node_before = snapshot(node.pid)
        probe = subprocess.Popen([os.path.join(RELEASE, "cort-probe"), workload, str(count)], env=environment,
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.2)  # past the probe's start-up
        probe_before = snapshot(probe.pid)
        started = time.time()
        probe_last = probe_before
        while probe.poll() is None:
            try:
                probe_last = snapshot(probe.pid)
            except OSError:
                break
            time.sleep(0.05)
        elapsed = time.time() - started
        node_after = snapshot(node.pid)
        output = probe.stdout.read()
    finally:
        node.stdin.close()
        node.terminate()
    per_call = float(re.search(r"([0-9.e-]+) seconds per call", output).group(1))
    calls = elapsed / per_call  # the calls made while /proc was read
    hertz = os.sysconf("SC_CLK_TCK")
    print(f"{workload}: {per_call * 1e6:.2f} µs a call; {elapsed:.2f} s observed, about {calls:.0f} calls")
    for side, totals in (("caller", by_name(probe_before, probe_last)), ("node", by_name(node_before, node_after))):
        total = 0.0
        for name, (user, system, voluntary, involuntary) in sorted(totals.items(), key=lambda item: -sum(item[1][:2])):
            cpu = (user + system) / hertz * 1e6 / calls
            total += cpu
            if cpu > 0.05 or voluntary > calls / 100:
                print(f"  {side:6} {name:20} user {user / hertz * 1e6 / calls:5.2f} µs, system "
                      f"{system / hertz * 1e6 / calls:5.2f} µs, context switches {voluntary / calls:.3f} voluntary, "
                      f"{involuntary / calls:.3f} involuntary")
        print(f"  {side} total {total:.2f} µs a call")


if __name__ == "__main__":
    main()
