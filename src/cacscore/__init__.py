"""cacscore: coronary artery calcium detection and scoring on cardiac CT.

The public API is re-exported lazily so that ``import cacscore`` stays fast (torch is only imported by the
modules that need it).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cacscore")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

from cacscore.errors import CacscoreError  # noqa: E402
from cacscore.labels import Artery  # noqa: E402
from cacscore.volume import ScanInfo, Volume  # noqa: E402

__all__ = ["Artery", "CacscoreError", "ScanInfo", "Volume", "__version__"]
