"""The one exception type for errors a user can cause (bad path, wrong file, missing slices, non-CT, ...).

Library code raises :class:`CacscoreError` with a message that says what was wrong and what to do; the CLI
prints that message as one line and exits with status 2. Any other exception is a bug in cacscore.
"""

from __future__ import annotations


class CacscoreError(Exception):
    """A problem with the user's input or request, explained in one line."""
