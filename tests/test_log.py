"""The collection of one case's warnings (cacscore.log.collect_warnings)."""

from __future__ import annotations

import threading
import time
import warnings

from cacscore.log import collect_warnings


def test_cases_in_two_threads_keep_their_own_warnings():
    """Two cases that run in threads of one process (a Dask worker with two threads) and warn while both
    collect: each case's record holds its own warnings and only those, every one of them."""
    got: dict[str, list[str]] = {}

    def case(name: str) -> None:
        with collect_warnings() as caught:
            for k in range(5):
                warnings.warn(f"{name} warning {k}", UserWarning, stacklevel=1)
                time.sleep(0.01)  # the other thread runs in between
            got[name] = sorted(str(w.message) for w in caught.python)

    threads = [threading.Thread(target=case, args=(name,)) for name in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("first", "second"):
        assert got[name] == [f"{name} warning {k}" for k in range(5)]
