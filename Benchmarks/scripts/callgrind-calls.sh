#!/usr/bin/env bash
# Instructions per call (callgrind), the count that CPU steal does not move.
#
#   scripts/callgrind-calls.sh node   [N]   # a cort-bench-node (4 replicas, defaults) under callgrind, typed calls from cort-probe
#   scripts/callgrind-calls.sh echo   [N]   # the C echo server under callgrind, called by the C client
#   scripts/callgrind-calls.sh caller [N]   # cort-probe's typed calls under callgrind, to a cort-bench-node
#   scripts/callgrind-calls.sh cclient [N]  # the C client under callgrind, to the C echo server
#   scripts/callgrind-calls.sh lean   [N]   # the prototype caller (LeanCaller) under callgrind, to a cort-bench-node
#
# CORT_CALLGRIND_WINDOW=64 (or 256) keeps that many calls in flight instead
# of one (the probe's calls-window and cecho-remote-window workloads).
#
# One call in flight by default. The process under callgrind counts N calls, then 2N
# (zeroed in between for a server; two runs for a client); the difference
# over N leaves out start-up and warm-up. Release builds of cort-bench-node,
# cort-echo-server and cort-probe must exist (swift build -c release
# --product …). valgrind 3.19 cannot read the DWARF 5 that Swift writes, so
# copies without debug information are measured (symbols stay), and it
# needs scripts/valgrind-sigsuspend-shim.c preloaded (see there).
set -euo pipefail
cd "$(dirname "$0")/.."
side=${1:?node, echo, caller or cclient}
N=${2:-1000}
bin=${CORT_BENCH_BIN:-.build/release}
work=$(mktemp -d /tmp/cort-callgrind.XXXXXX)
cc -shared -fPIC -O2 -o "$work/shim.so" scripts/valgrind-sigsuspend-shim.c -ldl
for tool in cort-bench-node cort-echo-server cort-probe; do
    strip --strip-debug -o "$work/$tool" "$bin/$tool"
done
window=${CORT_CALLGRIND_WINDOW:-1}
case $window in
1) suffix= ;;
64) suffix=-window ;;
256) suffix=-window-256 ;;
*) echo "CORT_CALLGRIND_WINDOW: 1, 64 or 256" >&2; exit 2 ;;
esac
grind() { LD_PRELOAD="$work/shim.so" valgrind --tool=callgrind --callgrind-out-file="$1" "${@:2}"; }
total() { grep -h '^summary:' "$1" | awk '{print $2}'; }
port=$((47000 + RANDOM % 900))
endpoint=tcp://127.0.0.1:$port

case $side in
node|echo)
    if [ "$side" = node ]; then server=cort-bench-node; workload=calls$suffix; variable=CORT_BENCH_NODE; args=("$endpoint" 4)
    else server=cort-echo-server; workload=cecho-remote$suffix; variable=CORT_BENCH_ECHO; args=("$endpoint"); fi
    # The server exits when its standard input ends: when this script does,
    # which holds the fifo's writing end (fd 3).
    mkfifo "$work/in"
    grind "$work/server.out" "$work/$server" "${args[@]}" < "$work/in" > "$work/server.log" 2>&1 &
    exec 3> "$work/in"
    for _ in $(seq 1 120); do grep -q ready "$work/server.log" && break; sleep 1; done
    pid=$(pgrep -f "callgrind-out-file=$work/server.out" | head -1)
    export "$variable=$endpoint"
    "$work/cort-probe" "$workload" 300 > /dev/null
    callgrind_control -z "$pid" > /dev/null 2>&1
    "$work/cort-probe" "$workload" "$N" > /dev/null
    callgrind_control -d one "$pid" > /dev/null 2>&1
    callgrind_control -z "$pid" > /dev/null 2>&1
    "$work/cort-probe" "$workload" $((2 * N)) > /dev/null
    callgrind_control -d two "$pid" > /dev/null 2>&1
    exec 3>&-
    wait
    one=$(total "$work/server.out.1"); two=$(total "$work/server.out.2")
    ;;
caller|cclient|lean)
    if [ "$side" = caller ] || [ "$side" = lean ]; then server=cort-bench-node; workload=calls$suffix; variable=CORT_BENCH_NODE; args=("$endpoint" 4)
        [ "$side" = lean ] && workload=lean${suffix:--latency}
    else server=cort-echo-server; workload=cecho-remote$suffix; variable=CORT_BENCH_ECHO; args=("$endpoint"); fi
    mkfifo "$work/in"
    "$work/$server" "${args[@]}" < "$work/in" > "$work/server.log" 2>&1 &
    exec 3> "$work/in"
    for _ in $(seq 1 60); do grep -q ready "$work/server.log" && break; sleep 1; done
    export "$variable=$endpoint"
    grind "$work/one.out" "$work/cort-probe" "$workload" "$N" > /dev/null 2>&1
    grind "$work/two.out" "$work/cort-probe" "$workload" $((2 * N)) > /dev/null 2>&1
    exec 3>&-
    wait
    one=$(total "$work/one.out"); two=$(total "$work/two.out")
    ;;
*) echo "usage: $0 node|echo|caller|cclient|lean [N]" >&2; exit 2 ;;
esac
echo "$side: $(( (two - one) / N )) instructions per call ($window in flight, N=$N; $one at N, $two at 2N; profiles in $work)"
