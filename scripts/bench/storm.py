"""One crash storm after another, for scripts/bench-storm.sh.

    storm.py PROGRAM PRELOAD FORMAT PROCESSES THREADS ROUNDS CHECK

Each round starts PROCESSES copies of `PROGRAM crash THREADS`
(tests/programs/storm.c) with PRELOAD preloaded and FAULTHANDLER_FORMAT
FORMAT, their stderr on one pipe, waits until every one is ready, releases
them together (the end of their shared stdin) and times how long it takes
until the pipe's last byte is read: the whole storm written. With CHECK 1
(the library), every dump is checked to be there and whole (JSON: one object per
line that parses; text: as many end lines as processes, each right before
the next header). Prints one JSON object: the times in seconds.
"""
import json
import os
import subprocess
import sys
import time


def one_storm(program, preload, fmt, processes, threads):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTHANDLER")}
    env["LD_PRELOAD"] = preload
    env["FAULTHANDLER_FORMAT"] = fmt
    err_r, err_w = os.pipe()
    bar_r, bar_w = os.pipe()
    rdy_r, rdy_w = os.pipe()
    procs = [
        subprocess.Popen([program, "crash", str(threads)], stdin=bar_r, stdout=rdy_w,
                         stderr=err_w, env=env)
        for _ in range(processes)
    ]
    for fd in (bar_r, rdy_w, err_w):
        os.close(fd)
    ready = 0
    while ready < processes:
        b = os.read(rdy_r, processes - ready)
        if not b:
            sys.exit("storm.py: a process died before it was ready")
        ready += len(b)
    os.close(rdy_r)
    start = time.monotonic()
    os.close(bar_w)
    out = bytearray()
    while True:
        b = os.read(err_r, 1 << 16)
        if not b:
            break
        out += b
    elapsed = time.monotonic() - start
    os.close(err_r)
    for p in procs:
        p.wait()
        if p.returncode != -11:
            sys.exit(f"storm.py: process {p.pid} ended with {p.returncode}, not SIGSEGV")
    return elapsed, out.decode(errors="replace")


def check(out, fmt, processes):
    if fmt == "json":
        lines = [l for l in out.splitlines() if l]
        pids = {json.loads(l)["pid"] for l in lines}
        ok = len(lines) == processes and len(pids) == processes
    else:
        lines = out.splitlines()
        heads = [i for i, l in enumerate(lines) if l.startswith("faultdump: pid ")]
        ends = [i for i, l in enumerate(lines) if l.startswith("faultdump: end of dump, pid ")]
        ok = len(heads) == len(ends) == processes and all(
            e < h for e, h in zip(ends, heads[1:]))
    if not ok:
        sys.exit(f"storm.py: the {fmt} dumps are not all there and whole:\n{out}")


def main():
    program, preload, fmt = sys.argv[1:4]
    processes, threads, rounds, dumps = (int(a) for a in sys.argv[4:8])
    times = []
    for _ in range(rounds):
        elapsed, out = one_storm(program, preload, fmt, processes, threads)
        if dumps:
            check(out, fmt, processes)
        times.append(elapsed)
    print(json.dumps({"times": times}))


main()
