"""Writing a phantom cohort to disk in the orCaScore layout or as DICOM series + manifest CSV.

orCaScore layout (read back by :func:`cacscore.datasets.read_orcascore`)::

    <out>/Training Set/Images/TRV{v}P{p}CTI.mhd (+ .zraw)     the scan, int16 HU
    <out>/Training Set/Reference standard/TRV{v}P{p}R.mhd     labels 0/1 LAD(+LM)/2 LCX/3 RCA (uint8)
    <out>/Training Set/Heart masks/TRV{v}P{p}H.mhd            cacscore extension: heart mask (uint8 0/1)
    <out>/truth/TRV{v}P{p}.json                               ground truth (lesions, look-alikes, scores)
    <out>/truth/TRV{v}P{p}_lookalikes.nii.gz                  look-alike codes (cacscore.phantom.LookAlike)

``v`` is the preset's vendor code (siemens 1, philips 2, ge 3, canon 4). Case k of the cohort (0-based)
uses vendor ``vendors[k % len(vendors)]`` and patient number ``p = k // len(vendors) + 1``; real orCaScore
has 8 training patients per vendor, the phantom simply continues past 8 (P9, P10, ...).

Manifest layout (read back by :func:`cacscore.datasets.read_manifest`)::

    <out>/manifest.csv   case_id,image,label,heart_mask,patient_id,vendor,subset,lookalikes,truth
    <out>/cases/<case_id>/dicom/CT*.dcm          CT Image Storage, int16, RescaleIntercept -1024
    <out>/cases/<case_id>/label.nii.gz, heart_mask.nii.gz, lookalikes.nii.gz, truth.json

Case seeds come from the cohort seed by ``np.random.SeedSequence(seed, spawn_key=(k,))``, so case k is the
same whatever ``n_cases``. Every file is written atomically; the truth JSON is written last and marks a
case complete, so an interrupted run is resumed by running it again (complete cases are kept).
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cacscore.datasets import Case, read_manifest, read_orcascore
from cacscore.errors import CacscoreError
from cacscore.io import write_dicom_series, write_mask, write_volume
from cacscore.io.atomic import write_text_atomic
from cacscore.log import get_logger
from cacscore.phantom.generator import PhantomCase, generate_case, target_category
from cacscore.phantom.presets import VENDOR_PRESETS, get_preset

log = get_logger(__name__)

LAYOUTS = ("orcascore", "manifest")


def case_seed(cohort_seed: int, index: int) -> int:
    """The seed of case ``index`` of a cohort: independent of the cohort size."""
    state = np.random.SeedSequence(int(cohort_seed), spawn_key=(int(index),)).generate_state(1, np.uint32)
    return int(state[0])


def case_plan(
    n_cases: int, seed: int, vendors: Sequence[str] | None = None, min_category: int = 0
) -> list[dict]:
    """(case id, vendor, seed) of each case of a cohort, in the orCaScore naming.

    With ``min_category`` > 0, case seeds whose target risk category
    (:func:`cacscore.phantom.generator.target_category`) is below it are skipped, so a training cohort can
    hold only patients with coronary calcium; the cases kept are the same as in a cohort without the option
    (same seeds), renumbered.
    """
    if not 0 <= min_category <= 4:
        raise CacscoreError(f"minimum category must be 0..4, not {min_category}")
    names = [get_preset(v).name for v in (vendors or list(VENDOR_PRESETS))]
    plan: list[dict] = []
    index = 0
    while len(plan) < n_cases:
        s = case_seed(seed, index)
        index += 1
        if min_category and target_category(s) < min_category:
            continue
        k = len(plan)
        preset = get_preset(names[k % len(names)])
        plan.append(
            {
                "index": index - 1,
                "case_id": f"TRV{preset.vendor_code}P{k // len(names) + 1}",
                "vendor": preset.name,
                "seed": s,
            }
        )
    return plan


def write_cohort(
    out_dir: str | os.PathLike[str],
    n_cases: int,
    seed: int,
    vendors: Sequence[str] | None = None,
    layout: str = "orcascore",
    *,
    montage: bool = False,
    progress: bool = False,
    min_category: int = 0,
) -> list[Case]:
    """Generate and write ``n_cases`` phantom cases; return them as :class:`cacscore.datasets.Case`.

    Args:
        out_dir: output folder (created).
        n_cases: number of cases (>= 1).
        seed: cohort seed.
        vendors: preset names to cycle through (default all four, in vendor order).
        layout: "orcascore" (MHD) or "manifest" (DICOM series + NIfTI masks + manifest.csv).
        montage: also write ``montages/<case_id>.png``.
        progress: show a tqdm progress bar (the CLI decides).
        min_category: skip case seeds aiming at a lower risk category (see :func:`case_plan`).
    """
    if layout not in LAYOUTS:
        raise CacscoreError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if n_cases < 1:
        raise CacscoreError(f"--cases must be at least 1, not {n_cases}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CacscoreError(f"{out} exists and is not a folder; choose an output folder")
    plan = case_plan(n_cases, seed, vendors, min_category)
    iterator = plan
    if progress:
        from tqdm import tqdm

        iterator = tqdm(plan, desc="phantom", unit="case")
    rows = []
    for item in iterator:
        paths = _paths(out, layout, item["case_id"])
        if not paths["truth"].is_file():
            case = generate_case(item["seed"], item["vendor"])
            case.truth.update({"case_id": item["case_id"], "cohort_seed": int(seed), "index": item["index"]})
            _write_case(case, paths, layout, item)
            if montage:
                from cacscore.phantom.montage import write_montage

                write_montage(case, out / "montages" / f"{item['case_id']}.png")
            log.info("%s written (%s)", item["case_id"], item["vendor"])
        else:
            log.info("%s already complete; kept", item["case_id"])
        rows.append((item, paths))
    wanted = [item["case_id"] for item, _ in rows]
    if layout == "manifest":
        _write_manifest(out, rows)
        cases = read_manifest(out / "manifest.csv")
    else:
        cases = read_orcascore(out)
    by_id = {c.case_id: c for c in cases}
    return [by_id[c] for c in wanted]


def truth_path(out_dir: str | os.PathLike[str], case: Case) -> Path:
    """Where ``write_cohort`` put the truth JSON of ``case`` (either layout)."""
    layout = "manifest" if case.metadata.get("layout") == "manifest" else "orcascore"
    return _paths(Path(out_dir), layout, case.case_id)["truth"]


def _paths(out: Path, layout: str, case_id: str) -> dict[str, Path]:
    if layout == "orcascore":
        ts = out / "Training Set"
        return {
            "image": ts / "Images" / f"{case_id}CTI.mhd",
            "label": ts / "Reference standard" / f"{case_id}R.mhd",
            "heart_mask": ts / "Heart masks" / f"{case_id}H.mhd",
            "lookalikes": out / "truth" / f"{case_id}_lookalikes.nii.gz",
            "truth": out / "truth" / f"{case_id}.json",
        }
    folder = out / "cases" / case_id
    return {
        "image": folder / "dicom",
        "label": folder / "label.nii.gz",
        "heart_mask": folder / "heart_mask.nii.gz",
        "lookalikes": folder / "lookalikes.nii.gz",
        "truth": folder / "truth.json",
    }


def _write_case(case: PhantomCase, paths: dict[str, Path], layout: str, item: dict) -> None:
    vol = case.volume
    if layout == "orcascore":
        write_volume(vol, paths["image"], compress=True)
        write_mask(case.labels, vol, paths["label"], compress=True)
        write_mask(case.heart_mask, vol, paths["heart_mask"], compress=True)
    else:
        if paths["image"].exists():  # a complete series from an interrupted run (written atomically)
            import shutil

            shutil.rmtree(paths["image"])
        write_dicom_series(
            vol, paths["image"], patient_name=f"PHANTOM^{item['case_id']}", patient_id=item["case_id"]
        )
        write_mask(case.labels, vol, paths["label"])
        write_mask(case.heart_mask, vol, paths["heart_mask"])
    write_mask(case.lookalikes, vol, paths["lookalikes"])
    write_text_atomic(paths["truth"], json.dumps(case.truth, indent=1, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _write_manifest(out: Path, rows: list[tuple[dict, dict[str, Path]]]) -> None:
    """manifest.csv listing every case of this run (paths relative to the manifest's folder)."""
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["case_id", "image", "label", "heart_mask", "patient_id", "vendor", "subset", "lookalikes", "truth"]
    )
    for item, paths in rows:
        rel = {k: p.relative_to(out).as_posix() for k, p in paths.items()}
        w.writerow(
            [
                item["case_id"],
                rel["image"],
                rel["label"],
                rel["heart_mask"],
                item["case_id"],
                item["vendor"],
                "train",
                rel["lookalikes"],
                rel["truth"],
            ]
        )
    write_text_atomic(out / "manifest.csv", buf.getvalue())
