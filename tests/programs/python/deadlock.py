"""Two threads each wait for the lock the other holds; the main thread
joins them. A timeout dump (FAULTHANDLER_TIMEOUT) shows all three; with
ORACLE_TIMEOUT set, Python's own faulthandler dumps them first, after that
many seconds, for the test to compare."""
import faulthandler
import os
import threading

if "ORACLE_TIMEOUT" in os.environ:
    faulthandler.dump_traceback_later(float(os.environ["ORACLE_TIMEOUT"]))

first = threading.Lock()
second = threading.Lock()
both_hold = threading.Barrier(2)


def take_first_then_second():
    with first:
        both_hold.wait()
        second.acquire()


def take_second_then_first():
    with second:
        both_hold.wait()
        first.acquire()


threads = [
    threading.Thread(target=take_first_then_second, daemon=True),
    threading.Thread(target=take_second_then_first, daemon=True),
]
for t in threads:
    t.start()
for t in threads:
    t.join()
