"""The case-id policy: every input gets one id, the name of its output folder ``OUTDIR/<case id>/``.

- An id comes from the file system only, never from a DICOM field: a folder's name, or a file's name without
  its image ending (:func:`case_id_for`). Characters a folder name cannot carry well (control characters,
  bytes that are not UTF-8) become ``_``; a name longer than :data:`MAX_CASE_ID_BYTES` is shortened and made
  unique with a hash of the whole name.
- Inputs of one run whose names give the same id get distinct ids from their parent folders
  (``a/scan.nii.gz``, ``b/scan.nii.gz`` -> ``a_scan``, ``b_scan``), decided before any work
  (:func:`case_ids_for`); the same input given twice is an error.
- An id chosen by the user (a manifest's ``case_id``) must be one plain folder name that is not hidden, not
  one of the files an output folder holds beside its cases (summary.csv, index.html, risk_categories.png)
  and not longer than :data:`MAX_CASE_ID_BYTES` (:func:`check_case_id`).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from cacscore.errors import CacscoreError

#: Longest case id (UTF-8 bytes): a folder name may have 255, and the hidden staging name adds about 20.
MAX_CASE_ID_BYTES = 200

#: Files an output folder holds beside its case folders; no case may take their names.
OUTPUT_FOLDER_FILES: tuple[str, ...] = ("summary.csv", "index.html", "risk_categories.png")

#: File endings removed from a file's name to give its case id.
IMAGE_ENDINGS: tuple[str, ...] = (".nii.gz", ".nii", ".mhd", ".mha", ".nrrd", ".nhdr", ".dcm")

#: Characters of a shortened id's hash suffix.
_HASH_LENGTH = 8


def _plain(name: str) -> str:
    """``name`` with control characters and undecodable bytes (surrogates) replaced by ``_``."""
    return "".join("_" if ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF else c for c in name)


def _shortened(name: str) -> str:
    """``name`` cut to fit :data:`MAX_CASE_ID_BYTES` with a hash of the whole name appended."""
    from cacscore.privacy import hashed_id

    if len(name.encode("utf-8")) <= MAX_CASE_ID_BYTES:
        return name
    digest = hashed_id(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), _HASH_LENGTH)
    keep = name.encode("utf-8")[: MAX_CASE_ID_BYTES - _HASH_LENGTH - 1].decode("utf-8", "ignore")
    return f"{keep}-{digest}"


def _stem(path: Path) -> str:
    name = path.resolve().name if str(path) in (".", "..") or path.name == "" else path.name
    if not path.is_dir():
        lower = name.lower()
        for ending in IMAGE_ENDINGS:
            if lower.endswith(ending) and len(name) > len(ending):
                return name[: -len(ending)]
    return name


def case_id_for(input_path: str | os.PathLike[str]) -> str:
    """The case id of an input: a folder's name, or a file's name without .nii.gz/.nii/.mhd/.mha/.nrrd/.dcm.

    Never a DICOM field (patient name or ID): ids come from the file system only. Control characters and
    bytes that are not UTF-8 become ``_``, a leading dot is dropped, and an over-long name is shortened with
    a hash (see the module docstring).
    """
    return _shortened(_plain(_stem(Path(input_path)))).lstrip(".") or "case"


def check_case_id(case_id: str) -> None:
    """Refuse a case id that cannot name an output folder of its own (see the module docstring)."""
    separator = any(c in case_id for c in "/\\\0")
    if not case_id or case_id.startswith(".") or separator or _plain(case_id) != case_id:
        raise CacscoreError(f"case id {case_id!r} cannot name an output folder; use letters, digits, - and _ "
                            "(not starting with a dot)")
    if case_id.lower() in OUTPUT_FOLDER_FILES:
        raise CacscoreError(f"case id {case_id!r} is the name of a file the output folder holds "
                            f"({', '.join(OUTPUT_FOLDER_FILES)}); choose another id")
    if len(case_id.encode("utf-8")) > MAX_CASE_ID_BYTES:
        raise CacscoreError(f"case id {case_id[:40]!r}... is {len(case_id.encode('utf-8'))} bytes long, more "
                            f"than the {MAX_CASE_ID_BYTES} a folder name allows here; choose a shorter id")


def case_ids_for(inputs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Distinct case ids for the inputs of one run, in their order (see the module docstring).

    Raises:
        CacscoreError: an input given twice, or inputs whose names and parent folders are the same.
    """
    paths = [Path(p) for p in inputs]
    seen: dict[Path, Path] = {}
    for p in paths:
        resolved = p.resolve()
        if resolved in seen:
            raise CacscoreError(f"{p} is given twice (as {seen[resolved]} too); give each input once")
        seen[resolved] = p
    ids = [case_id_for(p) for p in paths]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, case_id in enumerate(ids):
        groups[case_id.casefold()].append(i)
    for members in (m for m in groups.values() if len(m) > 1):
        for i, case_id in zip(members, _by_parent_folders([paths[i] for i in members]), strict=True):
            ids[i] = case_id
    duplicates = sorted({c for c in ids if [x.casefold() for x in ids].count(c.casefold()) > 1})
    if duplicates:
        raise CacscoreError(
            f"the inputs cannot be given distinct case ids ({', '.join(duplicates[:3])}): rename them, or "
            "list them in a manifest with a case_id each (cacscore batch MANIFEST.csv)"
        )
    for case_id in ids:
        check_case_id(case_id)
    return ids


def _by_parent_folders(paths: list[Path]) -> list[str]:
    """Ids for inputs whose own names collide: the name prefixed by as many parent folders as it takes."""
    stems = [case_id_for(p) for p in paths]
    parents = [p.resolve().parent.parts for p in paths]
    for depth in range(1, max(len(parts) for parts in parents)):
        ids = [_shortened(_plain("_".join([*parts[len(parts) - depth:], stem])))
               for parts, stem in zip(parents, stems, strict=True)]
        if len({i.casefold() for i in ids}) == len(ids):
            return ids
    return stems
