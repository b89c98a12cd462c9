"""cacscore: coronary artery calcium detection and scoring on cardiac CT.

Importing the package imports nothing else: :data:`__version__` and the names below are looked up on first
use (PEP 562), so that ``import cacscore`` is instant and a Ctrl-C in the first moments of a command meets
the command's own interrupt handling rather than an import (torch is only imported by modules that need it).
"""

from __future__ import annotations

import logging
from typing import Any

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it.
_LAZY = {
    "Artery": "cacscore.labels",
    "CacscoreError": "cacscore.errors",
    "ScanInfo": "cacscore.volume",
    "Volume": "cacscore.volume",
}

__all__ = ["Artery", "CacscoreError", "ScanInfo", "Volume", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("cacscore")
        except PackageNotFoundError:  # running from a source tree that was not installed
            value = "0+unknown"
    elif name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'cacscore' has no attribute {name!r}")
    globals()[name] = value
    return value
