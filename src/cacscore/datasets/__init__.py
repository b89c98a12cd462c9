"""Dataset layouts read into :class:`Case` lists: orCaScore, COCA (gated release), a manifest CSV.

:func:`open_dataset` tells them apart. See docs/formats.md for each layout and the assumptions made.
"""

from __future__ import annotations

import os
from pathlib import Path

from cacscore.datasets.case import Case, check_codes
from cacscore.datasets.coca import read_coca, release_folder
from cacscore.datasets.manifest import read_manifest
from cacscore.datasets.orcascore import is_orcascore, read_orcascore
from cacscore.datasets.outlines import labels_from_outlines, read_osirix_outlines
from cacscore.errors import CacscoreError

__all__ = [
    "Case",
    "check_codes",
    "labels_from_outlines",
    "open_dataset",
    "read_coca",
    "read_manifest",
    "read_orcascore",
    "read_osirix_outlines",
]


def open_dataset(path: str | os.PathLike[str]) -> list[Case]:
    """The cases of a dataset, whatever its layout.

    A .csv file is a manifest; a folder holding a COCA release (``patient/`` + ``calcium_xml/``, possibly
    under ``Gated_release_final``) is COCA; a folder with orCaScore names (``TRV1P1CTI.mhd`` ...) is
    orCaScore; a folder holding ``manifest.csv``, or exactly one .csv file, is that manifest.
    """
    p = Path(path)
    if not p.exists():
        raise CacscoreError(f"{p} does not exist; give a dataset folder or a manifest .csv")
    if p.is_file():
        if p.suffix.lower() == ".csv":
            return read_manifest(p)
        raise CacscoreError(f"{p.name} is not a dataset: give a folder or a manifest .csv")
    if release_folder(p) is not None:
        return read_coca(p)
    if is_orcascore(p):
        return read_orcascore(p)
    if (p / "manifest.csv").is_file():
        return read_manifest(p / "manifest.csv")
    csvs = sorted(p.glob("*.csv"))
    if len(csvs) == 1:
        return read_manifest(csvs[0])
    raise CacscoreError(
        f"cannot tell the layout of {p}: expected orCaScore (Training Set/Images/TRV1P1CTI.mhd ...), "
        "COCA (Gated_release_final/patient + calcium_xml) or one manifest .csv"
        + (f"; found {len(csvs)} .csv files, give one" if csvs else "")
    )
