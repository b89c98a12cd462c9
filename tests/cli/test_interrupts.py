"""A Ctrl-C is honoured even when a library swallows its KeyboardInterrupt (cacscore.cli._common)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cacscore.cli._common import check_interrupted, remember_interrupts


def test_a_swallowed_ctrl_c_stops_the_command_at_the_next_checkpoint():
    """Inside a command, SIGINT raises KeyboardInterrupt as usual; a bare ``except:`` (as some optional
    imports have) swallows it, and check_interrupted raises it again. Outside, Python's handler is back and
    a new command starts with no interrupt remembered."""
    before = signal.getsignal(signal.SIGINT)
    with remember_interrupts():
        check_interrupted()  # nothing came yet
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler runs here
        except BaseException:  # the swallowing library
            pass
        with pytest.raises(KeyboardInterrupt):
            check_interrupted()
    assert signal.getsignal(signal.SIGINT) is before
    with remember_interrupts():
        check_interrupted()
