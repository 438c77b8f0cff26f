"""Crashes in a C call three Python functions deep on the main thread,
while a worker thread sleeps in a Python function."""
import ctypes
import threading
import time

started = threading.Event()


def worker_sleeps():
    started.set()
    time.sleep(60)


def level3_read_null():
    ctypes.string_at(0)


def level2_prepare():
    level3_read_null()


def level1_start():
    level2_prepare()


threading.Thread(target=worker_sleeps, name="worker", daemon=True).start()
started.wait()
time.sleep(0.05)
level1_start()
