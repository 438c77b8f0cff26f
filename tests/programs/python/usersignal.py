"""Sends itself SIGUSR1 (FAULTHANDLER_SIGNAL) two Python functions deep,
then carries on."""
import os
import signal


def inner():
    os.kill(os.getpid(), signal.SIGUSR1)


def outer():
    inner()


outer()
print("alive")
