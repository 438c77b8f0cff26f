"""The Python frames benchmark: 10 worker threads, each 50 Python calls
deep, waiting; the main thread, 50 deep too, crashes in a C call
(ctypes.string_at(0)) once all are in place."""
import ctypes
import threading

DEPTH = 50
WORKERS = 10
ready = threading.Barrier(WORKERS + 1)
never = threading.Event()


def worker(depth):
    if depth:
        return worker(depth - 1)
    ready.wait()
    never.wait()


def crash(depth):
    if depth:
        return crash(depth - 1)
    ready.wait()
    ctypes.string_at(0)


for _ in range(WORKERS):
    threading.Thread(target=worker, args=(DEPTH,), daemon=True).start()
crash(DEPTH)
