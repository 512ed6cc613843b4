#!/usr/bin/env python3
"""Where one call's time goes, leg by leg (perf, syscall tracepoints).

    scripts/legs.py --node tcp://127.0.0.1:47600 --echo tcp://127.0.0.1:47601 [--calls 2000] [--rounds 3]

Both servers must already run (cort-bench-node, cort-echo-server; release
builds). Each round makes --calls calls, one in flight, from cort-probe
(`calls`, then `cecho-remote`) while `perf record -a` takes every sendto(2)
and recvfrom(2). libzmq's I/O threads make those system calls, so a round
trip splits into four legs:

    request on the wire   caller's I/O thread sendto -> node's I/O thread recvfrom
    node                  node's recvfrom (request)  -> node's sendto (answer)
    answer on the wire    node's sendto              -> caller's recvfrom
    caller                caller's recvfrom (answer) -> its sendto (next request)

Medians in µs, each round a line, cort and the C echo interleaved. Tracing
adds a few µs to every leg; compare legs with each other and across builds,
not with untraced figures.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, '..', '.build', 'release', 'cort-probe')
LINE = re.compile(r'\s*(.+?)\s+(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)')


def server_io_thread(endpoint):
    """The tid of libzmq's I/O thread in the process listening on endpoint's port."""
    port = endpoint.rsplit(':', 1)[1]
    pids = subprocess.run(['pgrep', '-f', f'127.0.0.1:{port}'], capture_output=True, text=True).stdout.split()
    for pid in pids:
        for tid in sorted(os.listdir(f'/proc/{pid}/task')):
            with open(f'/proc/{pid}/task/{tid}/comm') as comm:
                if comm.read().strip() == 'ZMQbg/IO/0':
                    return tid
    sys.exit(f'no process with a libzmq I/O thread serves {endpoint}')


def legs(events, caller, node):
    found = {'request on the wire': [], 'node': [], 'answer on the wire': [], 'caller': []}
    state, last = None, None
    for time, kind, tid in events:
        if kind == 'send' and tid == caller:
            if state == 'answered':
                found['caller'].append(time - last)
            state, last = 'sent', time
        elif kind == 'recv' and tid == node and state == 'sent':
            found['request on the wire'].append(time - last)
            state, last = 'arrived', time
        elif kind == 'send' and tid == node and state == 'arrived':
            found['node'].append(time - last)
            state, last = 'replied', time
        elif kind == 'recv' and tid == caller and state == 'replied':
            found['answer on the wire'].append(time - last)
            state, last = 'answered', time
    return {name: statistics.median(values) if values else float('nan') for name, values in found.items()}


def round_trip(workload, variable, endpoint, calls):
    node = server_io_thread(endpoint)
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, 'perf.data')
        subprocess.run(['perf', 'record', '-q', '-o', data, '-a',
                        '-e', 'syscalls:sys_enter_sendto', '-e', 'syscalls:sys_exit_recvfrom', '--',
                        'env', f'{variable}={endpoint}', PROBE, workload, str(calls)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        script = subprocess.run(['perf', 'script', '-i', data, '-F', 'comm,tid,time,event,trace'],
                                capture_output=True, text=True).stdout
    events, io_threads = [], {}
    for line in script.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        comm, tid, time, event, rest = match.groups()
        if comm != 'ZMQbg/IO/0':
            continue
        if event.endswith('sendto'):
            length = re.search(r'len: (0x[0-9a-f]+)', rest)
            if not length or int(length.group(1), 16) == 0:
                continue
            kind = 'send'
        elif event.endswith('recvfrom'):
            if int(rest.strip(), 16) <= 0:
                continue
            kind = 'recv'
        else:
            continue
        events.append((float(time) * 1e6, kind, tid))
        io_threads[tid] = io_threads.get(tid, 0) + 1
    others = sorted((count, tid) for tid, count in io_threads.items() if tid != node)
    if not others:
        sys.exit('no caller I/O thread in the trace')
    return legs(events, others[-1][1], node)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--node', required=True)
    parser.add_argument('--echo', required=True)
    parser.add_argument('--calls', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workload', default='calls',
                        help="cort-probe's typed workload: calls (callers on the global pool, the default) or calls-on-reactor")
    options = parser.parse_args()
    names = ['request on the wire', 'node', 'answer on the wire', 'caller']
    print('round  side    ' + ''.join(f'{name:>22}' for name in names))
    for number in range(1, options.rounds + 1):
        for side, workload, variable, endpoint in (('cort', options.workload, 'CORT_BENCH_NODE', options.node),
                                                   ('C', 'cecho-remote', 'CORT_BENCH_ECHO', options.echo)):
            figures = round_trip(workload, variable, endpoint, options.calls)
            print(f'{number:5}  {side:6}' + ''.join(f'{figures[name]:22.1f}' for name in names))


if __name__ == '__main__':
    main()
