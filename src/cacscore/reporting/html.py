"""The per-case HTML report: one self-contained page (inline CSS, PNG slices as base64 data URIs).

Rendered with Jinja2 from ``templates/report.html`` (autoescaped). It reads the result dict of
:mod:`cacscore.pipeline` (the scoring JSON of issue 4 plus ``case_id``, ``model`` and per-lesion
``probability_coronary``), so any result.json can be turned back into a report with its scan and labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from cacscore.labels import Artery
from cacscore.reporting.figures import DISPLAY_PX, MAX_SLICES, RULED_OUT_COLOUR, slice_figures
from cacscore.volume import Volume

#: Arteries in the per-artery table, in reporting order (LM only when the result keeps it separate).
TABLE_ARTERIES: tuple[Artery, ...] = (Artery.LM, Artery.LAD, Artery.LCX, Artery.RCA)

_ENV: Environment | None = None


def _environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=PackageLoader("cacscore.reporting", "templates"),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
        )
    return _ENV


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):.{digits}f}"
    return str(value)


def _per_artery(result: Mapping, key: str, artery: Artery) -> Any:
    block = result.get(key)
    if isinstance(block, Mapping):
        return block.get(artery.name)
    return None


def _category_doubt(result: Mapping[str, Any]) -> str:
    """Under the category, when it rests on unsure calls (result.json's ``category_certainty``): what it
    would be without them; "" otherwise."""
    certainty = result.get("category_certainty")
    if not isinstance(certainty, Mapping) or not certainty.get("rests_on_unsure"):
        return ""
    return f"rests on unsure calls; {certainty.get('category_without_unsure')} without them"


def category_text(value: Any) -> str:
    """Display text of a risk category or CAC-DRS entry, whatever form the scoring JSON gives it."""
    if value is None:
        return "n/a"
    if isinstance(value, Mapping):
        for key in ("label", "name", "text", "category", "grade"):
            if key in value and value[key] is not None:
                return str(value[key])
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def total_of(block: Any) -> Any:
    """The ``total`` of a per-artery block (or the value itself when it is a number)."""
    if isinstance(block, Mapping):
        return block.get("total")
    return block


def _scan_rows(result: Mapping, include_settings: bool = False) -> list[tuple[str, str]]:
    scan = result.get("scan") or {}
    rows = []
    names = {
        "manufacturer": "Manufacturer",
        "model": "Scanner model",
        "kvp": "Tube voltage (kVp)",
        "slice_thickness_mm": "Slice thickness (mm)",
        "slice_increment_mm": "Slice increment (mm)",
        "spacing_zyx_mm": "Voxel spacing z, y, x (mm)",
        "pixel_spacing_mm": "Pixel spacing (mm)",
        "shape_zyx": "Matrix z, y, x",
        "kernel": "Reconstruction kernel",
        "series_description": "Series",
        "modality": "Modality",
    }
    for key, value in scan.items():
        if key in ("warnings",) or value is None or isinstance(value, Mapping):
            continue
        label = names.get(key, key.replace("_", " "))
        if isinstance(value, list | tuple):
            text = " x ".join(_number(v, 3) if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            text = _number(value, 3)
        else:
            text = str(value)
        rows.append((label, text))
    return rows


def _artery_rows(result: Mapping, lesions: list) -> list[dict[str, Any]]:
    """The per-artery table: LM only when the result keeps it apart (else LAD reads "LAD (incl. LM)")."""
    keep_lm = any(str(les.get("artery")) == Artery.LM.name for les in lesions) or (
        isinstance(result.get("agatston"), Mapping) and Artery.LM.name in result["agatston"]
    )
    rows = []
    for artery in TABLE_ARTERIES:
        if artery is Artery.LM and not keep_lm:
            continue
        rows.append(
            {
                "name": artery.name if artery is not Artery.LAD or keep_lm else "LAD (incl. LM)",
                "colour": _hex(artery.colour),
                "agatston": _number(_per_artery(result, "agatston", artery)),
                "volume_mm3": _number(_per_artery(result, "volume_mm3", artery)),
                "mass_mg": _number(_per_artery(result, "mass_mg", artery)),
                "lesions": sum(1 for les in lesions if str(les.get("artery")) == artery.name),
            }
        )
    return rows


def _slices_text(slices: Any) -> str:
    """A lesion's slices as "a-b" (first and last), or as given."""
    if isinstance(slices, list | tuple) and slices and len(slices) <= 2:
        return "-".join(str(s) for s in dict.fromkeys(slices))  # [20, 20] is slice 20
    if isinstance(slices, list | tuple) and slices:
        return f"{slices[0]}-{slices[-1]}"
    return str(slices) if slices is not None else ""


def _lesion_rows(lesions: list) -> list[dict[str, Any]]:
    """The lesion table: one row per scored lesion, in the result's order."""
    rows = []
    for les in lesions:
        name = str(les.get("artery"))
        colour = Artery[name].colour if name in Artery.__members__ else (128, 128, 128)
        rows.append(
            {
                "id": les.get("id"),
                "artery": name,
                "colour": _hex(colour),
                "agatston": _number(les.get("agatston")),
                "volume_mm3": _number(les.get("volume_mm3")),
                "peak_hu": _number(les.get("peak_hu"), 0),
                "slices": _slices_text(les.get("slices")),
                "probability": _number(les.get("probability_coronary"), 2),
            }
        )
    return rows


def _overruled_note(result: Mapping) -> str | None:
    """One sentence on the candidates the network called coronary and the decision rule's anatomy did not
    (result.json ``candidates[].overruled``), so that a reader can check them on the slices."""
    by_reason: dict[str, list[str]] = {}
    for row in result.get("candidates") or []:
        if isinstance(row, Mapping) and row.get("overruled"):
            by_reason.setdefault(str(row["overruled"]), []).append(_slices_text(row.get("slices")))
    if not by_reason:
        return None
    n = sum(len(v) for v in by_reason.values())
    parts = [f"slice{'s' if len(v) > 1 else ''} {', '.join(v)} ({reason})" for reason, v in by_reason.items()]
    return (f"Not scored: {n} calcification{'s' if n > 1 else ''} the classifier called coronary that "
            "anatomy rules out: " + "; ".join(parts) + ".")


def _method_rows(result: Mapping) -> list[tuple[str, str]]:
    """Settings, timings and model of the run, as (name, value) rows."""
    model = result.get("model") or {}
    settings = result.get("settings") or {}
    rows = [(k.replace("_", " "), str(v)) for k, v in settings.items() if not isinstance(v, Mapping)]
    timings = result.get("timings_s") or {}
    if timings:
        rows.append(("time (s)", ", ".join(f"{k} {v:.2f}" for k, v in timings.items())))
    if model:
        rows.append(("model", str(model.get("id", ""))))
    return rows


def _agatston_note(result: Mapping) -> str | None:
    """The note under the table when scores are normalised to 3 mm slices."""
    raw = result.get("agatston_raw")
    factor = (result.get("scan") or {}).get("agatston_normalisation_factor")
    if isinstance(raw, Mapping) and raw.get("total") is not None and factor not in (None, 1, 1.0):
        return (f"Agatston scores are normalised to 3 mm slices (factor {_number(factor, 3)}); the score at "
                f"the scan's own increment is {_number(raw['total'])}.")
    return None


def render_report_html(
    result: Mapping,
    volume: Volume,
    labels: np.ndarray,
    *,
    max_slices: int = MAX_SLICES,
    ruled_out: np.ndarray | None = None,
) -> str:
    """The report page for one case as a string (self-contained HTML5).

    Args:
        result: the case's result dict (what result.json holds); its ``warnings`` and the scan's are shown
            at the top.
        volume: the scan the result was computed on.
        labels: (z, y, x) calcium label volume (Artery codes) on the scan's grid.
        max_slices: most axial slices shown for the lesions (greedy, biggest lesion first: the largest
            slice of each lesion not yet on a slice shown; a lesion is what the lesion table lists: a
            region of one slice, or 3-D where a listed lesion spans slices, as under the orCaScore
            convention); lesions left without a picture are counted under the slices.
        ruled_out: bool (z, y, x), the calcifications the classifier called coronary and anatomy ruled out
            (:meth:`~cacscore.detection.pipeline.Prediction.ruled_out_mask`); drawn dashed yellow on their
            largest slices, which are shown too. None: not drawn.
    """
    labels = np.asarray(labels)
    for name, array in (("labels", labels), ("ruled_out", ruled_out)):
        if array is not None and np.shape(array) != volume.shape:
            raise ValueError(f"{name} of shape {np.shape(array)} do not match the volume's {volume.shape}")
    lesions = list(result.get("lesions") or [])
    figures, unpictured = slice_figures(
        volume, labels, max_slices=max_slices,
        ruled_out=None if ruled_out is None else np.asarray(ruled_out, bool),
        per_slice=all(len(les.get("slices") or ()) <= 1 for les in lesions))
    model = result.get("model") or {}
    settings = result.get("settings") or {}
    scan = result.get("scan") or {}
    software = result.get("software") or {}
    context = {
        "case_id": result.get("case_id", ""),
        "software_version": software.get("version", "") if isinstance(software, Mapping) else str(software),
        "model_id": model.get("id", "n/a") if isinstance(model, Mapping) else str(model),
        "artery_by_position": isinstance(model, Mapping) and model.get("artery_from") == "position",
        "total_agatston": _number(total_of(result.get("agatston"))),
        "total_volume": _number(total_of(result.get("volume_mm3"))),
        "total_mass": _number(total_of(result.get("mass_mg"))),
        "risk_category": category_text(result.get("risk_category")),
        "cac_drs": category_text(result.get("cac_drs")),
        "n_lesions": len(lesions),
        "lesion_unit": ("coronary lesions (3-D)" if settings.get("convention") == "orcascore"
                        else "calcified regions (per slice)"),
        "arteries": _artery_rows(result, lesions),
        "lesions": _lesion_rows(lesions),
        "figures": figures,
        "any_ruled_out": any(f.ruled_out for f in figures),
        "unpictured": unpictured,
        "max_slices": max_slices,
        "ruled_out_colour": "#{:02x}{:02x}{:02x}".format(*RULED_OUT_COLOUR),
        "fig_width": DISPLAY_PX,
        "scan_rows": _scan_rows(result),
        "method_rows": _method_rows(result),
        "warnings": list(scan.get("warnings") or []) + list(result.get("warnings") or []),
        "agatston_note": _agatston_note(result),
        "overruled_note": _overruled_note(result),
        "category_doubt": _category_doubt(result),
    }
    return _environment().get_template("report.html").render(**context)
