"""Package logger, and the collection of one case's warnings into one line.

Library code logs here and never prints; the CLI attaches handlers. Third-party libraries warn on their
own: pydicom by the dozen on a de-identified export ("Invalid value for VR UI"), highdicom, and ITK, which
writes to the terminal from C++. :func:`collect_warnings` catches all of them while one case runs (Python
warnings, the records of other libraries' loggers, ITK's messages, and cacscore's own warnings, held back
from the handlers) so that the caller records them in result.json and prints one line.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Most distinct third-party messages kept per case (the count covers them all).
MAX_KEPT_MESSAGES = 20

#: Most characters of the one warning line printed per case (result.json keeps every warning whole).
WARNING_LINE_CHARS = 300

#: Held while a block collects warnings: Python's warning filters and the logging handlers are
#: process-wide, so two threads collecting at once would catch each other's warnings.
_COLLECTING = threading.RLock()


def get_logger(name: str) -> logging.Logger:
    """Logger under the ``cacscore`` namespace, e.g. ``get_logger(__name__)``."""
    return logging.getLogger(name if name.startswith("cacscore") else f"cacscore.{name}")


def printable(text: str) -> str:
    """``text`` as it can be written to a UTF-8 file or terminal: bytes of a file name that are not UTF-8
    (Python's surrogate escapes) are shown as ``\\udcXX``; on one line."""
    return " ".join(text.encode("utf-8", "backslashreplace").decode("utf-8").split())


def warning_line(subject: str, warnings: list[str]) -> str:
    """One line for all the warnings of ``subject`` (a case or a file), shortened to
    :data:`WARNING_LINE_CHARS`."""
    text = "; ".join(" ".join(w.split()) for w in warnings)
    if len(text) > WARNING_LINE_CHARS:
        text = text[: WARNING_LINE_CHARS - 3] + "..."
    return f"{subject}: {len(warnings)} warning(s): {text}"


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|<[^>]*>|\(0x[0-9a-fA-F]+\)|\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)")
_ITK_SOURCE_LINE = re.compile(r"^\s*(WARNING|ERROR):\s*In\s+\S+,\s*line\s+\d+\s*$")
_ITK_ADDRESS = re.compile(r"\s*\(0x[0-9a-fA-F]+\)")


def _pattern(message: str) -> str:
    """A message with its quoted values, tags and addresses blanked, so that variants count as one."""
    return _QUOTED.sub("…", message)


@dataclass
class CollectedWarnings:
    """What :func:`collect_warnings` catches, readable while the block still runs: third-party messages
    (Python warnings, other libraries' log records, ITK's messages) and cacscore's own held-back warnings."""

    python: list = field(default_factory=list)  # warnings.WarningMessage, filled by warnings.catch_warnings
    logged: Counter = field(default_factory=Counter)  # (library, message) -> records
    itk: Counter = field(default_factory=Counter)  # message -> count
    own: list[str] = field(default_factory=list)

    def _messages(self) -> Counter:
        """(source, message) -> count; a message pydicom both logs and warns counts once (the larger)."""
        warned: Counter = Counter()
        for w in self.python:
            warned[(_source_of(w.filename, w.category), " ".join(str(w.message).split()))] += 1
        merged = Counter({key: max(warned[key], self.logged[key]) for key in set(warned) | set(self.logged)})
        merged.update({("ITK", message): n for message, n in self.itk.items()})
        return merged

    def _by_pattern(self) -> tuple[Counter, dict[tuple[str, str], str]]:
        counts: Counter = Counter()
        examples: dict[tuple[str, str], str] = {}
        for (source, message), n in sorted(self._messages().items()):
            key = (source, _pattern(message))
            counts[key] += n
            examples.setdefault(key, message)
        return counts, examples

    @property
    def total(self) -> int:
        """Number of third-party warnings caught so far."""
        return sum(self._messages().values())

    def records(self) -> list[dict[str, object]]:
        """The third-party warnings for result.json: source, count and one example each, most frequent
        first (at most :data:`MAX_KEPT_MESSAGES`)."""
        counts, examples = self._by_pattern()
        return [{"source": source, "count": n, "message": examples[(source, pattern)]}
                for (source, pattern), n in counts.most_common(MAX_KEPT_MESSAGES)]

    def summary(self) -> str | None:
        """One line saying how many third-party warnings came from where, with the most frequent."""
        counts, examples = self._by_pattern()
        if not counts:
            return None
        sources: Counter = Counter()
        for (source, _), n in counts.items():
            sources[source] += n
        (source, pattern), n = counts.most_common(1)[0]
        example = examples[(source, pattern)]
        example = example if len(example) <= 90 else example[:87] + "..."
        by_source = ", ".join(f"{k} {v}" for k, v in sources.most_common())
        distinct = len(self._messages())
        return (f"{sum(counts.values())} warning(s) ({distinct} distinct) from other libraries "
                f"({by_source}), most often {n} x {source}: {example!r}")


def _source_of(filename: str, category: type[Warning]) -> str:
    """The library that issued a Python warning: the package folder of its file."""
    parts = Path(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            index = parts.index(marker)
            if index + 1 < len(parts):
                return parts[index + 1].removesuffix(".py")
    return "cacscore" if "cacscore" in parts else category.__name__


class _LoggerRecords(logging.Handler):
    """Collects the WARNING+ records of loggers outside cacscore (on the root logger: nothing prints)."""

    def __init__(self, collected: CollectedWarnings) -> None:
        super().__init__(logging.WARNING)
        self.collected = collected

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("cacscore"):
            self.collected.logged[(record.name.split(".")[0], " ".join(record.getMessage().split()))] += 1


class _HoldBack(logging.Filter):
    """Keeps cacscore's own WARNING records off the handlers, collecting their messages."""

    def __init__(self, collected: CollectedWarnings) -> None:
        super().__init__()
        self.collected = collected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.name.startswith("cacscore"):
            message = record.getMessage()
            if message not in self.collected.own:
                self.collected.own.append(message)
            return False
        return True


def _itk_logger(collected: CollectedWarnings):
    """A SimpleITK logger that collects ITK's messages (without its source paths) instead of printing."""
    import SimpleITK as sitk  # noqa: N813

    class Collector(sitk.LoggerBase):
        def _keep(self, text: str) -> None:
            lines = [ln for ln in text.splitlines() if ln.strip() and not _ITK_SOURCE_LINE.match(ln)]
            if lines:
                collected.itk[" ".join(_ITK_ADDRESS.sub("", " ".join(lines)).split())] += 1

        def DisplayText(self, text: str) -> None:  # noqa: N802 (SimpleITK's names)
            self._keep(text)

        def DisplayErrorText(self, text: str) -> None:  # noqa: N802
            self._keep(text)

        def DisplayWarningText(self, text: str) -> None:  # noqa: N802
            self._keep(text)

        def DisplayGenericOutputText(self, text: str) -> None:  # noqa: N802
            self._keep(text)

        def DisplayDebugText(self, text: str) -> None:  # noqa: N802
            pass

    return Collector()


@contextlib.contextmanager
def collect_warnings() -> Iterator[CollectedWarnings]:
    """Catch every warning issued inside the block (see the module docstring); nothing of it prints.

    Python's warning filters are process-wide, so one block collects at a time per process: cases run in
    threads of one process (a Dask worker started with several threads) wait for each other here; run
    such workers with one thread each (``dask worker --nthreads 1``) to run cases in parallel.
    """
    with _COLLECTING:
        yield from _collect()


def _collect() -> Iterator[CollectedWarnings]:
    collected = CollectedWarnings()
    records = _LoggerRecords(collected)
    hold_back = _HoldBack(collected)
    root, package = logging.getLogger(), logging.getLogger("cacscore")
    itk = _itk_logger(collected)
    previous_itk = itk.SetAsGlobalITKLogger()
    root.addHandler(records)
    for handler in package.handlers:
        handler.addFilter(hold_back)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            collected.python = caught
            yield collected
    finally:
        previous_itk.SetAsGlobalITKLogger()
        root.removeHandler(records)
        for handler in package.handlers:
            handler.removeFilter(hold_back)
