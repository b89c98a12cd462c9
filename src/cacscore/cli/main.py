"""The ``cacscore`` command: discovers subcommands, sets up logging, turns user errors into one line.

One error path: a :class:`CacscoreError` (or a wrong argument) is one line on stderr and exit status 2, an
interrupt (Ctrl-C, at any moment, imports included) is one line and 130; a command that runs many cases
returns 1 when one of them hit an internal error (:func:`cacscore.cli._common.exit_status`).

Every module in :mod:`cacscore.cli` (other than this one) that defines ``COMMAND`` (its name), ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int`` is a subcommand. Modules are imported only when
their command runs, except for reading those three names, so ``cacscore --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import cacscore
from cacscore.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_USER_ERROR,
    OneLineParser,
    check_interrupted,
    one_line,
    remember_interrupts,
)
from cacscore.errors import CacscoreError


def _command_modules() -> list[str]:
    package = importlib.import_module("cacscore.cli")
    names = (m.name for m in pkgutil.iter_modules(package.__path__))
    return sorted(n for n in names if n != "main" and not n.startswith("_"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every discovered subcommand.

    Only ``command``'s own arguments are added (all of them when ``command`` is None): a command's
    ``add_arguments`` may import heavy modules (``train`` lists recipes that import torch), and
    ``cacscore predict`` should not wait for them, nor a Ctrl-C in its first second find it importing.
    """
    parser = OneLineParser(
        prog="cacscore",
        description="Coronary artery calcium detection and scoring on cardiac CT.",
    )
    parser.add_argument("--version", action="version", version=f"cacscore {cacscore.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"cacscore.cli.{name}")
        if not hasattr(module, "run"):
            continue
        p = sub.add_parser(module.COMMAND, help=module.HELP, description=module.HELP)
        if command is None or command == module.COMMAND:
            module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("cacscore")
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cacscore`` console script; returns the exit status."""
    command = "cacscore"
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return EXIT_USER_ERROR
        command = f"cacscore {args.command}"
        _configure_logging(args.verbose, args.quiet)
        with remember_interrupts():
            status = int(args._run(args) or 0)
            check_interrupted()
        return status
    except CacscoreError as exc:
        print(f"{command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
