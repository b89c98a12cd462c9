"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars are shown only on a terminal and never with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()
