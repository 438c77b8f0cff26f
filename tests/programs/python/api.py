"""Calls faultdump_dump_traceback (the C API, found in the preloaded
library through ctypes) two Python functions deep, then carries on."""
import ctypes


def inner():
    ctypes.CDLL(None).faultdump_dump_traceback(2, 1)


def outer():
    inner()


outer()
print("alive")
