"""Helpers shared by the subcommands: progress bars, exit statuses, the one-line argument errors."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

#: Exit statuses: all went well; a bug in cacscore (an internal error); a problem with the user's input or
#: request (one line on stderr says what); interrupted (Ctrl-C).
EXIT_OK = 0
EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

#: Set when a Ctrl-C arrives while a command runs (:func:`remember_interrupts`), so that one a library
#: swallows (an optional import under a bare ``except:``) still stops the command at its next
#: :func:`check_interrupted`.
_INTERRUPTED = threading.Event()


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars are shown only on a terminal and never with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def exit_status(outcomes: Iterable[Any]) -> int:
    """The exit status of a run over cases: 1 when any case hit an internal error, else 2 when any case
    failed, else 0 (skipped cases are fine)."""
    failed = [o for o in outcomes if o.status == "error"]
    if any(getattr(o, "internal", False) for o in failed):
        return EXIT_INTERNAL_ERROR
    return EXIT_USER_ERROR if failed else EXIT_OK


def one_line(text: str) -> str:
    """``text`` on one line (messages of other libraries may hold newlines)."""
    return " ".join(str(text).split())


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), pointing to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


@contextlib.contextmanager
def remember_interrupts() -> Iterator[None]:
    """While the block runs, a Ctrl-C raises KeyboardInterrupt as Python's own handler does and is also
    remembered for :func:`check_interrupted`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    _INTERRUPTED.clear()
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def check_interrupted() -> None:
    """Raise KeyboardInterrupt when a Ctrl-C came during :func:`remember_interrupts` (a checkpoint before
    work that writes: a Ctrl-C swallowed by a library is honoured here)."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C back until the block ends, then raise it.

    For loading native libraries (torch's pybind11 modules): a KeyboardInterrupt raised inside their
    initialisation escapes through C++ and aborts the process (``std::terminate``, exit 134) instead of
    reaching the one-line "interrupted" of :func:`cacscore.cli.main.main`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        _INTERRUPTED.set()
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def import_engine_libraries(engine: str) -> None:
    """Import the inference engine's native library (torch, unless the engine is ONNX) with Ctrl-C held
    back (:func:`deferred_interrupt`); a missing library is left for the engine to report."""
    if engine == "onnx":
        return
    with deferred_interrupt(), contextlib.suppress(ImportError):
        import torch  # noqa: F401
