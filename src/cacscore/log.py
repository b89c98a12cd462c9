"""Package logger. Library code logs here and never prints; the CLI attaches handlers."""

from __future__ import annotations

import logging


def get_logger(name: str) -> logging.Logger:
    """Logger under the ``cacscore`` namespace, e.g. ``get_logger(__name__)``."""
    return logging.getLogger(name if name.startswith("cacscore") else f"cacscore.{name}")
