"""A case folder on disk: one input scan in, ``OUTDIR/<case id>/`` out.

:func:`predict_to_folder` reads a scan from disk, runs :class:`cacscore.detection.pipeline.Predictor` on
it and writes ``OUTDIR/<case id>/`` (calcium mask, result.json, report.html, and a DICOM SEG when the input
was DICOM) all at once: the case folder appears complete or not at all, an existing one is replaced in one
step, and nothing is ever written inside an input, next to an input file or over one. What a killed run
left (hidden ``.<id>.partial-<pid>`` / ``.<id>.old-<pid>`` folders) is cleaned up before the case runs.

The case's warnings (the reader's repairs and notes, the predictor's, the DICOM SEG's, and every warning of
other libraries, counted) go to result.json and the report, and are printed as one line. The case-id policy
is :mod:`cacscore.case_ids`.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cacscore.case_ids import OUTPUT_FOLDER_FILES, case_id_for, case_ids_for, check_case_id
from cacscore.detection.pipeline import MASK_FORMATS, Prediction, PredictOptions, Predictor, load_predictor
from cacscore.errors import CacscoreError
from cacscore.io.atomic import recover_folder, replace_folder, staging_name
from cacscore.log import CollectedWarnings, collect_warnings, get_logger, printable, warning_line
from cacscore.volume import Volume

log = get_logger(__name__)

__all__ = [
    "OUTPUT_FOLDER_FILES",
    "CaseOutcome",
    "case_id_for",
    "case_ids_for",
    "check_case_id",
    "check_output_folder",
    "check_output_location",
    "predict_to_folder",
]

#: Most folders of a DICOM input whose first image gives the identifying values to keep out of messages.
MAX_PHI_FOLDERS = 50

RESULT_NAME = "result.json"
REPORT_NAME = "report.html"
SEG_NAME = "calcium_seg.dcm"


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one input: ``status`` "ok", "error", "skipped" (or "pending" in a batch summary).

    ``internal`` marks an error that is a bug in cacscore, not a problem with the input.
    """

    case_id: str
    status: Literal["ok", "error", "skipped", "pending"]
    result: dict | None
    error: str | None
    seconds: float
    output_dir: str | None = None
    internal: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "status": self.status, "result": self.result, "error": self.error,
                "seconds": self.seconds, "output_dir": self.output_dir, "internal": self.internal}


def _is_dicom_input(path: Path, volume: Volume) -> bool:
    return path.is_dir() or path.suffix.lower() == ".dcm" or volume.info.series_uid is not None


def check_output_location(input_path: Path, case_dir: Path) -> None:
    """Refuse a case folder that lies inside an input folder, holds the input, or is the input."""
    src = input_path.resolve()
    dst = case_dir.resolve()
    if src == dst or src.is_relative_to(dst):
        raise CacscoreError(f"the output folder {case_dir} would hold or replace the input {input_path}; "
                            "choose another -o folder")
    if src.is_dir() and dst.is_relative_to(src):
        raise CacscoreError(f"the output folder {case_dir} lies inside the input folder {input_path}; "
                            "cacscore never writes next to its inputs: choose another -o folder")


def check_output_folder(out_dir: Path, inputs: Iterable[Path]) -> None:
    """The one rule for an output folder, checked before any work: it is a folder (or does not exist yet),
    it does not lie inside a folder given as input (a DICOM series or a cohort), and it is not the folder
    that holds an input file (outputs never go next to an input)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CacscoreError(f"the output {out_dir} is a file, not a folder; give a folder with -o")
    dst = out_dir.resolve()
    for path in inputs:
        src = path.resolve()
        if src.is_dir() and dst.is_relative_to(src):
            raise CacscoreError(f"the output folder {out_dir} lies inside the input {path}; cacscore never "
                                "writes next to or inside its inputs: choose an output folder outside them")
        if src.is_file() and dst == src.parent:
            raise CacscoreError(f"the output folder {out_dir} is the folder of the input {path}; cacscore "
                                "never writes next to its inputs: choose another -o folder")


def heart_mask_path_for(options: PredictOptions, case_id: str) -> Path | None:
    """The heart mask file of a case: the given file, or ``<case id>.<ext>`` in the given folder."""
    if options.heart_mask is None:
        return None
    path = Path(options.heart_mask)
    if path.is_dir():
        for ending in (".nii.gz", ".nii", ".mhd", ".mha", ".nrrd"):
            candidate = path / f"{case_id}{ending}"
            if candidate.is_file():
                return candidate
        raise CacscoreError(f"no heart mask for case {case_id} in {path} (expected {case_id}.nii.gz or "
                            f"{case_id}.mhd, ...)")
    if not path.is_file():
        raise CacscoreError(f"heart mask {path} does not exist")
    return path


def _load_heart_mask(path: Path, volume: Volume) -> np.ndarray:
    try:
        from cacscore.detection.heart_roi import load_heart_mask
    except ImportError:
        from cacscore.io import read_mask

        return read_mask(path, like=volume) > 0
    return np.asarray(load_heart_mask(path, volume), dtype=bool)


def _identifying_values(input_path: Path, options: PredictOptions) -> set[str]:
    """The identifying values of a DICOM input (kept out of messages) unless PHI is allowed: those of the
    first image in each of its folders (an export tree may hold several patients)."""
    if options.include_phi or not (input_path.is_dir() or input_path.suffix.lower() == ".dcm"):
        return set()
    import pydicom

    from cacscore.privacy import phi_values

    firsts: dict[Path, Path] = {}
    for file in [input_path] if input_path.is_file() else sorted(input_path.rglob("*")):
        if file.is_file() and file.parent not in firsts and len(firsts) < MAX_PHI_FOLDERS:
            firsts[file.parent] = file
    values: set[str] = set()
    for file in firsts.values():
        try:
            values |= phi_values(pydicom.dcmread(file, stop_before_pixels=True))
        except Exception:  # not DICOM: nothing to keep out
            continue
    return values


def _case_warnings(result: dict, volume: Volume, notes: Sequence[str],
                   caught: CollectedWarnings | None) -> list[str]:
    """Every warning of the case, once each, in the order they arose (reader, checks and SEG notes,
    predictor, logs)."""
    merged: list[str] = []
    sources = [volume.info.warnings, notes, result.get("warnings") or [],
               caught.own if caught is not None else []]
    for message in (printable(m) for group in sources for m in group):
        if message not in merged and message not in ((result.get("scan") or {}).get("warnings") or []):
            merged.append(message)
    summary = caught.summary() if caught is not None else None
    if summary:
        merged.append(summary)
    return merged


def write_case_outputs(
    case_dir: Path,
    prediction: Prediction,
    result: dict,
    options: PredictOptions,
    *,
    dicom_input: bool,
    notes: Sequence[str] = (),
    caught: CollectedWarnings | None = None,
    redact_values: Iterable[str] = (),
) -> dict[str, float]:
    """Write a case's files into a hidden sibling folder, then put it at ``case_dir`` in one step.

    The case's warnings (the volume's, ``notes``, the SEG's, the result's and those ``caught``; see
    :func:`_case_warnings`) are set in ``result["warnings"]`` before the report and result.json are written,
    and other libraries' warnings in ``result["third_party_warnings"]``.
    """
    from cacscore.io import write_mask
    from cacscore.reporting import render_report_html, write_result_json

    timings: dict[str, float] = {}
    parent = case_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / staging_name(case_dir.name, "partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        t = time.perf_counter()
        name, dtype = MASK_FORMATS[options.mask_format]
        write_mask(prediction.labels, prediction.volume, staging / name, dtype=dtype)
        timings["write_mask"] = time.perf_counter() - t
        notes = list(notes)
        if dicom_input if options.write_seg is None else options.write_seg:
            t = time.perf_counter()
            _write_seg(staging / SEG_NAME, prediction, notes)
            timings["write_seg"] = time.perf_counter() - t
        values = set(redact_values)
        warnings = [_redacted(w, values) for w in _case_warnings(result, prediction.volume, notes, caught)]
        result.pop("warnings", None)
        if warnings:
            result["warnings"] = warnings
        if caught is not None and caught.total:
            result["third_party_warnings"] = [dict(r, message=_redacted(str(r["message"]), values))
                                              for r in caught.records()]
        t = time.perf_counter()
        page = render_report_html(result, prediction.volume, prediction.labels,
                                  ruled_out=prediction.ruled_out_mask())
        (staging / REPORT_NAME).write_text(page, encoding="utf-8")
        timings["report"] = time.perf_counter() - t
        result["timings_s"].update({k: round(v, 4) for k, v in timings.items()})
        write_result_json(result, staging / RESULT_NAME)
        replace_folder(staging, case_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return timings


def _write_seg(path: Path, prediction: Prediction, notes: list[str]) -> None:
    """The DICOM SEG, or a note saying why there is none; the other outputs are written either way."""
    try:
        from cacscore.io.seg import write_dicom_seg
    except ImportError:
        notes.append("no DICOM SEG: highdicom is not installed")
        return
    if not prediction.labels.any():
        log.info("no coronary calcium: no DICOM SEG written")
        return
    try:
        write_dicom_seg(prediction.labels, prediction.volume, path, notes=notes)
    except CacscoreError as exc:
        notes.append(f"no DICOM SEG written: {exc}")


def predict_to_folder(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: PredictOptions | None = None,
    predictor: Predictor | None = None,
    case_id: str | None = None,
    series_uid: str | None = None,
) -> CaseOutcome:
    """Predict one input (DICOM folder or image file) and write ``out_dir/<case id>/``; never raises for a
    case that fails (only KeyboardInterrupt and the like go through).

    ``case_id`` names the case (a manifest's ``case_id``); by default it is :func:`case_id_for` the input
    (folder name or file stem). ``series_uid`` names the DICOM series to read (a study of a folder that holds
    several). Returns a :class:`CaseOutcome`: user errors (unreadable input, wrong heart mask, output inside
    the input, a case id that cannot name a folder) give status "error" with the message; any other
    exception gives status "error" with ``internal=True``; nothing is written for a failed case. A case
    folder that already holds a result.json is "skipped" unless ``options.overwrite``. Patient-identifying
    DICOM values are removed from messages unless ``options.include_phi``.
    """
    start = time.perf_counter()
    options = PredictOptions() if options is None else options
    input_path = Path(input_path)
    case_id = case_id_for(input_path) if case_id is None else case_id
    case_dir = Path(out_dir) / case_id
    values: set[str] = set()

    def outcome(status, result=None, error=None, internal=False):
        return CaseOutcome(case_id, status, result, error, round(time.perf_counter() - start, 3),
                           str(case_dir) if status != "error" else None, internal)

    try:
        with collect_warnings() as caught:  # from the first file read on: nothing prints on its own
            check_case_id(case_id)
            if not input_path.exists():
                raise CacscoreError(f"{input_path} does not exist; give a DICOM folder or an image file")
            values = _identifying_values(input_path, options)
            check_output_location(input_path, case_dir)
            recover_folder(case_dir)
            if (case_dir / RESULT_NAME).is_file() and not options.overwrite:
                from cacscore.reporting import read_result_json

                log.info("%s: results exist, skipped (use --overwrite to redo)", case_id)
                return outcome("skipped", read_result_json(case_dir / RESULT_NAME))
            occupied = case_dir.exists() and (not case_dir.is_dir() or any(case_dir.iterdir()))
            if occupied and not options.overwrite:
                raise CacscoreError(f"{case_dir} exists and is not a cacscore result; "
                                    "use --overwrite or another -o")
            result = _run_case(input_path, case_dir, case_id, options, predictor, series_uid, caught, values)
        result["timings_s"]["total"] = round(time.perf_counter() - start, 4)
        scan_warnings = (result.get("scan") or {}).get("warnings") or []
        _print_warnings(case_id, [*scan_warnings, *(result.get("warnings") or [])], values)
        return outcome("ok", result)
    except CacscoreError as exc:
        return outcome("error", error=_error_text(str(exc), input_path, values))
    except Exception as exc:  # a bug in cacscore: this case fails, the run goes on, the message says so
        log.debug("%s: internal error", case_id, exc_info=True)
        message = f"internal error ({type(exc).__name__}: {exc})"
        return outcome("error", error=_error_text(message, input_path, values), internal=True)


def _run_case(input_path: Path, case_dir: Path, case_id: str, options: PredictOptions,
              predictor: Predictor | None, series_uid: str | None, caught: CollectedWarnings,
              values: set[str]) -> dict:
    """Read, check, predict and write one case; returns its result dict."""
    from cacscore.io import read_volume

    t = time.perf_counter()
    volume = read_volume(input_path, series_uid=series_uid)
    read_s = time.perf_counter() - t
    mask_path = heart_mask_path_for(options, case_id)
    heart_mask = _load_heart_mask(mask_path, volume) if mask_path is not None else None
    predictor = predictor or load_predictor(options)
    prediction = predictor.predict_volume(volume, heart_mask)
    result = prediction.result_dict(case_id)
    result["timings_s"] = {"read": round(read_s, 4), **result["timings_s"]}
    write_case_outputs(case_dir, prediction, result, options, dicom_input=_is_dicom_input(input_path, volume),
                       caught=caught, redact_values=values)
    return result


def _error_text(message: str, input_path: Path, values: set[str]) -> str:
    """An error message that names its input (prefixed when it does not), on one line, without PHI."""
    text = printable(message)
    if printable(str(input_path)) not in text:
        text = f"{printable(str(input_path))}: {text}"
    return _redacted(text, values)


def _redacted(message: str, values: set[str]) -> str:
    """``message`` without the case's identifying values: :func:`cacscore.privacy.redact` for values with
    letters; a value of digits only (an accession number such as "458") only where it stands as a number of
    its own, not inside the digits of a UID, a size or a count."""
    import re

    from cacscore.privacy import REDACTED, redact

    numeric = {v for v in values if v.isdigit()}
    for value in sorted(numeric, key=len, reverse=True):
        message = re.sub(rf"(?<!\d){re.escape(value)}(?!\d)", REDACTED, message)
    return redact(message, values - numeric)


def _print_warnings(case_id: str, warnings: Sequence[str], values: set[str]) -> None:
    """The case's warnings as one log line (all of them are in result.json)."""
    if warnings:
        log.warning("%s (all in result.json)", _redacted(warning_line(case_id, list(warnings)), values))
