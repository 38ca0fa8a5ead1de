#!/usr/bin/env python3
"""How long a broker takes per request, seen from its own system calls, for any broker (Vltava,
Kafka, ...): a diagnostic for the benchmarks, not part of the e2e run.

    python3 benches/request_timing.py --pid <broker pid> -- <client command ...>

records the broker's read/recvfrom/readv and write/writev/sendto/sendmsg system calls with
`perf record` (kernel tracepoints: no ptrace, every thread of the process) while the client
command runs, then takes the connection that received the most bytes and cuts its system calls
into requests: a request starts with the 4-byte read of its size prefix (both Vltava and Kafka
read the prefix first, then exactly the body), and ends with the next write on that connection
(its response; both serve one request per connection at a time). It prints

  - service time per request: size-prefix read entered -> response write returned,
  - the part of it from the last body read to the response write (the broker's own handling),
  - the gap from a response to the next request's size-prefix read, and
  - how the connection's wall time divides between serving a request and waiting between two.

A broker that is busy serving requests most of the time is what limits a pipelining client; one
that mostly waits between requests is not. Tracing costs the broker a few µs per system call,
so throughput under it is lower than in the benchmark.

Needs `perf` with access to the syscalls:* tracepoints (root, or perf_event_paranoid <= 1).
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CALLS = ("read", "recvfrom", "readv", "write", "writev", "sendto", "sendmsg")
READS = ("read", "recvfrom", "readv")
LINE = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")


def record(pid: int, command: list[str], out: Path) -> int:
    events = ",".join(f"syscalls:sys_{d}_{c}" for c in CALLS for d in ("enter", "exit"))
    perf = subprocess.Popen(["perf", "record", "-q", "-e", events, "-p", str(pid), "-m", "1024",
                             "-o", str(out)], stdout=subprocess.DEVNULL)
    time.sleep(1.0)  # perf attaches to every thread before the client starts
    try:
        status = subprocess.run(command).returncode
    finally:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    return status


def syscalls(data: Path) -> list[tuple[float, float, int, str, int | None, int]]:
    """(enter time, exit time, fd, call, requested size, return value), in time order."""
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "tid,time,event,trace"],
                          capture_output=True, text=True, check=True).stdout
    pending: dict[str, tuple] = {}
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        tid, t, phase, call, rest = m.groups()
        if phase == "enter":
            fd = re.search(r"fd: (0x[0-9a-f]+)", rest)
            size = re.search(r"(?:size|count): (0x[0-9a-f]+)", rest)
            if fd:
                pending[tid] = (float(t), int(fd.group(1), 16), call,
                                int(size.group(1), 16) if size else None)
        elif tid in pending:
            t0, fd, call, size = pending.pop(tid)
            ret = int(rest.split()[-1], 16)
            if ret >= 1 << 63:
                ret -= 1 << 64
            out.append((t0, float(t), fd, call, size, ret))
    out.sort()
    return out


def requests(calls) -> tuple[int, list[dict]]:
    by_fd = collections.defaultdict(list)
    for c in calls:
        by_fd[c[2]].append(c)
    fd, mine = max(by_fd.items(),
                   key=lambda kv: sum(c[5] for c in kv[1] if c[3] in READS and c[5] > 0))
    reqs, cur = [], None
    for t0, t1, _, call, size, ret in mine:
        if call in READS:
            if cur is None and size == 4 and ret == 4:
                cur = {"start": t0}
            elif cur is not None and ret > 0:
                cur["body_done"] = t1
        elif cur is not None and ret > 0 and "body_done" in cur:
            cur["resp_enter"], cur["resp_exit"] = t0, t1
            reqs.append(cur)
            cur = None
    return fd, reqs


def summary(fd: int, reqs: list[dict]) -> str:
    if len(reqs) < 2:
        return f"fd {fd}: fewer than two requests seen"

    def q(v, p):
        return sorted(v)[int(p * (len(v) - 1))]

    def line(label, v):
        return (f"  {label}: mean {statistics.mean(v):.0f} µs, p50 {q(v, .5):.0f}, "
                f"p90 {q(v, .9):.0f}, p99 {q(v, .99):.0f}")

    service = [(r["resp_exit"] - r["start"]) * 1e6 for r in reqs]
    handling = [(r["resp_enter"] - r["body_done"]) * 1e6 for r in reqs]
    gaps = [(b["start"] - a["resp_exit"]) * 1e6 for a, b in zip(reqs, reqs[1:])]
    span = reqs[-1]["resp_exit"] - reqs[0]["start"]
    busy = sum(service) / 1e6
    return "\n".join([
        f"fd {fd}: {len(reqs)} requests in {span:.2f} s; serving a request {busy:.2f} s "
        f"({busy / span:.0%}), between requests {span - busy:.2f} s ({1 - busy / span:.0%})",
        line("service (size-prefix read -> response written)", service),
        line("  of which last body read -> response write", handling),
        line("gap (response written -> next size-prefix read)", gaps),
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, help="the broker process")
    ap.add_argument("--data", type=Path, help="perf.data to write (or, without --pid, to read)")
    ap.add_argument("command", nargs="*", help="the client command to run while recording")
    args = ap.parse_args()
    if args.pid is None and args.data is None:
        ap.error("--pid and a command, or --data of an earlier recording")
    data = args.data or Path(tempfile.mkdtemp(prefix="request-timing-")) / "perf.data"
    if args.pid is not None:
        if not args.command:
            ap.error("give the client command after --")
        status = record(args.pid, args.command, data)
        print(f"client exited {status}; recording in {data}", file=sys.stderr)
    print(summary(*requests(syscalls(data))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
