"""Helpers shared by the subcommands: progress bars, exit statuses, the one-line argument errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

#: Exit statuses: all went well; a bug in cacscore (an internal error); a problem with the user's input or
#: request (one line on stderr says what); interrupted (Ctrl-C).
EXIT_OK = 0
EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


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
