#!/usr/bin/env python3
"""Interleaved rounds of a cort benchmark and its baseline, and their ratio.

CPU steal on these machines swings by up to a third between runs, so a time
means little alone. Each round runs the benchmark target once (all of its
benchmarks back to back, in one process); the ratio cort / baseline of their
p50 wall-clock times is taken inside each round, and the median over rounds
is reported.

    scripts/ratios.py --rounds 5 --target CodecBenchmarks \
        --pair "codec: MessagePack encode+decode" "codec: JSON encode+decode (baseline)"

--build PRODUCT builds an executable the benchmarks start (the servers of
CallBenchmarks) in release before the first round; --filter REGEX runs only
the benchmarks it matches; --xswiftc FLAG passes a compiler flag to every
build; --metric prints the p50
of another metric too (e.g. "Malloc (total)"). For a windowed pair the time
per call is the inverse of the throughput, so 1 / ratio is the throughput of
cort as a fraction of the baseline's; it is printed beside the ratio.
"""
import argparse
import re
import statistics
import subprocess
import sys


def swift_flags(xswiftc):
    return [flag for value in xswiftc for flag in ("-Xswiftc", value)]


def run_round(target, xswiftc=(), filters=()):
    command = [
        "swift", "package", *swift_flags(xswiftc), "--allow-writing-to-package-directory", "benchmark",
        "--target", target, "--no-progress", "--time-units", "nanoseconds",
    ]
    for pattern in filters:
        command += ["--filter", pattern]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse(output)


def parse(output):
    """Maps benchmark name -> {metric row name -> p50 as float}."""
    results = {}
    current = None
    for line in output.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("=", "╒", "╞", "├", "╘", "Host", "#")):
            continue
        if stripped.startswith("│"):
            cells = [cell.strip() for cell in stripped.strip("│").split("│")]
            if current is None or cells[0] == "Metric" or len(cells) < 4:
                continue
            value = cells[3].replace(",", "")
            match = re.fullmatch(r"([0-9.]+)\s*([KMG]?)", value)
            if match:
                scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[match.group(2)]
                results.setdefault(current, {})[cells[0]] = float(match.group(1)) * scale
            continue
        current = stripped
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("CORT", "BASELINE"))
    parser.add_argument("--build", action="append", default=[], metavar="PRODUCT",
                        help="an executable product to build (release) before the rounds")
    parser.add_argument("--metric", action="append", default=[], metavar="PREFIX",
                        help="also print the p50 of the metrics whose row starts with PREFIX")
    parser.add_argument("--filter", action="append", default=[], metavar="REGEX",
                        help="run only the benchmarks whose name matches (passed to the harness)")
    parser.add_argument("--xswiftc", action="append", default=[], metavar="FLAG",
                        help="a compiler flag for every build (-Xswiftc FLAG), e.g. to step around a compiler crash")
    arguments = parser.parse_args()

    for product in arguments.build:
        subprocess.run(["swift", "build", "-c", "release", *swift_flags(arguments.xswiftc), "--product", product],
                       check=True, stdout=subprocess.DEVNULL)

    ratios = {tuple(pair): [] for pair in arguments.pair}
    for round_number in range(1, arguments.rounds + 1):
        results = run_round(arguments.target, arguments.xswiftc, arguments.filter)
        for cort, baseline in arguments.pair:
            try:
                mine = next(v for k, v in results[cort].items() if k.startswith("Time (wall clock)"))
                theirs = next(v for k, v in results[baseline].items() if k.startswith("Time (wall clock)"))
            except (KeyError, StopIteration):
                sys.exit(f"round {round_number}: no wall-clock p50 for {cort!r} or {baseline!r}; saw {sorted(results)}")
            ratios[(cort, baseline)].append(mine / theirs)
            print(f"round {round_number}: {cort}: p50 {mine:.0f} ns | {baseline}: p50 {theirs:.0f} ns | "
                  f"ratio {mine / theirs:.3f} (inverse {theirs / mine:.3f})", flush=True)
            for prefix in arguments.metric:
                for name in (cort, baseline):
                    for row, value in results.get(name, {}).items():
                        if row.startswith(prefix):
                            print(f"round {round_number}:   {name}: {row} p50 {value:g}", flush=True)
    for (cort, baseline), values in ratios.items():
        median = statistics.median(values)
        print(f"{cort} / {baseline}: median ratio {median:.3f} (inverse {1 / median:.3f}) over {len(values)} rounds "
              f"(min {min(values):.3f}, max {max(values):.3f})")


if __name__ == "__main__":
    main()
