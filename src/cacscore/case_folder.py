"""A case folder on disk: one input scan in, ``OUTDIR/<case id>/`` out.

:func:`predict_to_folder` reads a scan from disk, runs :class:`cacscore.detection.pipeline.Predictor` on
it and writes ``OUTDIR/<case id>/`` (calcium mask, result.json, report.html, and a DICOM SEG when the input
was DICOM) all at once: the case folder appears complete or not at all, and nothing is ever written inside
an input or over one. The case-id policy (:func:`case_id_for`, :func:`check_case_id`) lives here too.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cacscore.detection.pipeline import MASK_FORMATS, Prediction, PredictOptions, Predictor, load_predictor
from cacscore.errors import CacscoreError
from cacscore.log import get_logger
from cacscore.volume import Volume

log = get_logger(__name__)

RESULT_NAME = "result.json"
REPORT_NAME = "report.html"
SEG_NAME = "calcium_seg.dcm"

_IMAGE_ENDINGS = (".nii.gz", ".nii", ".mhd", ".mha", ".nrrd", ".dcm")


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one input: ``status`` "ok", "error" or "skipped"."""

    case_id: str
    status: Literal["ok", "error", "skipped"]
    result: dict | None
    error: str | None
    seconds: float
    output_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "status": self.status, "result": self.result, "error": self.error,
                "seconds": self.seconds, "output_dir": self.output_dir}


def case_id_for(input_path: str | os.PathLike[str]) -> str:
    """The case id of an input: a folder's name, or a file's name without .nii.gz/.nii/.mhd/.mha/.nrrd/.dcm.

    Never a DICOM field (patient name or ID): ids come from the file system only.
    """
    path = Path(input_path)
    name = path.resolve().name if str(path) in (".", "..") or path.name == "" else path.name
    if not path.is_dir():
        lower = name.lower()
        for ending in _IMAGE_ENDINGS:
            if lower.endswith(ending) and len(name) > len(ending):
                name = name[: -len(ending)]
                break
    return name or "case"


def check_case_id(case_id: str) -> None:
    """Refuse a case id that is not one plain folder name (empty, ".", "..", a path separator)."""
    if case_id in ("", ".", "..") or "/" in case_id or "\\" in case_id or "\0" in case_id:
        raise CacscoreError(f"case id {case_id!r} cannot name an output folder; use letters, digits, - and _")


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


def write_case_outputs(
    case_dir: Path,
    prediction: Prediction,
    result: dict,
    options: PredictOptions,
    *,
    dicom_input: bool,
) -> dict[str, float]:
    """Write a case's files into a hidden sibling folder, then move it to ``case_dir`` in one rename."""
    from cacscore.io import write_mask
    from cacscore.reporting import render_report_html, write_result_json

    timings: dict[str, float] = {}
    parent = case_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{case_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        t = time.perf_counter()
        name, dtype = MASK_FORMATS[options.mask_format]
        write_mask(prediction.labels, prediction.volume, staging / name, dtype=dtype)
        timings["write_mask"] = time.perf_counter() - t
        write_seg = dicom_input if options.write_seg is None else options.write_seg
        if write_seg:
            t = time.perf_counter()
            _write_seg(staging / SEG_NAME, prediction)
            timings["write_seg"] = time.perf_counter() - t
        t = time.perf_counter()
        page = render_report_html(result, prediction.volume, prediction.labels)
        (staging / REPORT_NAME).write_text(page, encoding="utf-8")
        timings["report"] = time.perf_counter() - t
        result["timings_s"].update({k: round(v, 4) for k, v in timings.items()})
        write_result_json(result, staging / RESULT_NAME)
        if case_dir.exists():
            old = parent / f".{case_dir.name}.old-{os.getpid()}"
            os.replace(case_dir, old)
            os.replace(staging, case_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, case_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return timings


def _write_seg(path: Path, prediction: Prediction) -> None:
    try:
        from cacscore.io.seg import write_dicom_seg
    except ImportError:
        log.info("DICOM SEG output is not available in this installation; skipped")
        return
    if not prediction.labels.any():
        log.info("no coronary calcium: no DICOM SEG written")
        return
    write_dicom_seg(prediction.labels, prediction.volume, path)


def predict_to_folder(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: PredictOptions | None = None,
    predictor: Predictor | None = None,
    case_id: str | None = None,
) -> CaseOutcome:
    """Predict one input (DICOM folder or image file) and write ``out_dir/<case id>/``.

    ``case_id`` names the case (a manifest's ``case_id``); by default it is :func:`case_id_for` the input
    (folder name or file stem). Returns a :class:`CaseOutcome`; user errors (unreadable input, wrong heart
    mask, output inside the input, a case id that is not a plain folder name) give status "error" with the
    message, and nothing is written for that case. A case folder that already holds a result.json is
    "skipped" unless ``options.overwrite``.
    """
    start = time.perf_counter()
    options = PredictOptions() if options is None else options
    input_path = Path(input_path)
    case_id = case_id_for(input_path) if case_id is None else case_id
    case_dir = Path(out_dir) / case_id

    def outcome(status, result=None, error=None):
        return CaseOutcome(case_id, status, result, error, round(time.perf_counter() - start, 3),
                           str(case_dir) if status != "error" else None)

    try:
        check_case_id(case_id)
        if not input_path.exists():
            raise CacscoreError(f"{input_path} does not exist; give a DICOM folder or an image file")
        check_output_location(input_path, case_dir)
        if (case_dir / RESULT_NAME).is_file() and not options.overwrite:
            from cacscore.reporting import read_result_json

            log.info("%s: results exist, skipped (use --overwrite to redo)", case_id)
            return outcome("skipped", read_result_json(case_dir / RESULT_NAME))
        if case_dir.exists() and any(case_dir.iterdir()) and not options.overwrite:
            raise CacscoreError(f"{case_dir} exists and is not a cacscore result; "
                                "use --overwrite or another -o")
        t = time.perf_counter()
        from cacscore.io import read_volume

        volume = read_volume(input_path)
        read_s = time.perf_counter() - t
        mask_path = heart_mask_path_for(options, case_id)
        heart_mask = _load_heart_mask(mask_path, volume) if mask_path is not None else None
        predictor = predictor or load_predictor(options)
        prediction = predictor.predict_volume(volume, heart_mask)
        result = prediction.result_dict(case_id)
        result["timings_s"] = {"read": round(read_s, 4), **result["timings_s"]}
        write_case_outputs(case_dir, prediction, result, options,
                           dicom_input=_is_dicom_input(input_path, volume))
        result["timings_s"]["total"] = round(time.perf_counter() - start, 4)
        return outcome("ok", result)
    except CacscoreError as exc:
        log.error("%s: %s", case_id, exc)
        return outcome("error", error=str(exc))
