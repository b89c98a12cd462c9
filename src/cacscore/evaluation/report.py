"""Files of ``cacscore evaluate``: metrics.json, cases.csv, Bland-Altman and confusion-matrix PNGs, an HTML
summary. Every file is written atomically; figures use matplotlib's Agg canvas (no display needed)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from cacscore.io.atomic import atomic_path, write_text_atomic

METRICS_NAME = "metrics.json"
CASES_NAME = "cases.csv"
BLAND_ALTMAN_NAME = "bland_altman.png"
CONFUSION_NAME = "confusion_matrix.png"
HTML_NAME = "summary.html"

CASE_COLUMNS = (
    "case_id", "agatston_pred", "agatston_ref", "volume_mm3_pred", "volume_mm3_ref", "category_pred",
    "category_ref", "tp", "fn", "fp", "tp_mm3", "fn_mm3", "fp_mm3", "threshold_hu", "warnings",
)  # fmt: skip


def write_evaluation(out_dir: str | os.PathLike[str], summary: dict, rows: list[dict]) -> dict[str, Path]:
    """Write every output into ``out_dir``; returns {kind: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out / METRICS_NAME,
        "cases": out / CASES_NAME,
        "bland_altman": out / BLAND_ALTMAN_NAME,
        "confusion": out / CONFUSION_NAME,
        "html": out / HTML_NAME,
    }
    document = dict(summary, cases=rows)
    write_text_atomic(paths["metrics"], json.dumps(document, indent=2, default=_json_default) + "\n")
    write_text_atomic(paths["cases"], cases_csv(rows))
    _save(bland_altman_figure(rows), paths["bland_altman"])
    _save(confusion_figure(summary["patient"]["risk_category"]), paths["confusion"])
    write_text_atomic(paths["html"], summary_html(summary, rows))
    return paths


def cases_csv(rows: list[dict]) -> str:
    """One line per case (the columns of ``CASE_COLUMNS``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CASE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k) for k in CASE_COLUMNS})
    return buffer.getvalue()


def bland_altman_figure(rows: list[dict]):
    """Bland-Altman plots (difference vs mean) of the Agatston and volume scores, bias and 95 % limits."""
    from matplotlib.figure import Figure

    from cacscore.evaluation.agreement import bland_altman

    fig = Figure(figsize=(10, 4.2), dpi=100)
    for i, (key, title) in enumerate((("agatston", "Agatston"), ("volume_mm3", "Volume (mm³)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        pred = np.array([r[f"{key}_pred"] for r in rows], dtype=float)
        ref = np.array([r[f"{key}_ref"] for r in rows], dtype=float)
        ax.scatter((pred + ref) / 2, pred - ref, s=18, color="#3465a4")
        ba = bland_altman(pred, ref)
        if ba.bias is not None:
            ax.axhline(ba.bias, color="black", lw=1, label=f"bias {ba.bias:.1f}")
        if ba.lower is not None:
            ax.axhline(ba.lower, color="grey", ls="--", lw=1, label=f"limits {ba.lower:.1f} / {ba.upper:.1f}")
            ax.axhline(ba.upper, color="grey", ls="--", lw=1)
        ax.set_xlabel(f"mean of prediction and reference ({title})")
        ax.set_ylabel("prediction − reference")
        ax.set_title(f"{title}, n = {len(rows)}")
        if ba.bias is not None:
            ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(agreement: dict):
    """The risk-category confusion matrix (rows reference, columns prediction) with counts."""
    from matplotlib.figure import Figure

    matrix = np.asarray(agreement["confusion"], dtype=int)
    labels = agreement["labels"]
    fig = Figure(figsize=(5.2, 4.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    for (r, c), value in np.ndenumerate(matrix):
        colour = "white" if matrix.max() and value > matrix.max() / 2 else "black"
        ax.text(c, r, str(value), ha="center", va="center", color=colour)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("prediction")
    ax.set_ylabel("reference")
    kappa = agreement.get("kappa_linear")
    ax.set_title("risk category" + ("" if kappa is None else f" (linear κ = {kappa:.3f})"))
    fig.tight_layout()
    return fig


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cacscore evaluation</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}th:first-child,td:first-child{text-align:left}
img{max-width:100%}</style></head><body>
<h1>cacscore evaluation</h1>
<p>{{ n_cases }} cases; threshold and settings: {{ settings_text }}. Lesion rules: orCaScore (see
docs/scoring.md).</p>
<h2>Lesion level</h2>
<table><tr><th>artery</th><th>TP</th><th>FN</th><th>FP</th><th>sensitivity</th><th>PPV</th><th>F1</th>
<th>volume sensitivity</th><th>volume PPV</th><th>volume F1</th><th>FP / scan</th></tr>
{% for name, m in lesion %}<tr><td>{{ name }}</td><td>{{ m.tp }}</td><td>{{ m.fn }}</td><td>{{ m.fp }}</td>
<td>{{ f(m.sensitivity) }}</td><td>{{ f(m.ppv) }}</td><td>{{ f(m.f1) }}</td>
<td>{{ f(m.volume_sensitivity) }}</td>
<td>{{ f(m.volume_ppv) }}</td><td>{{ f(m.volume_f1) }}</td><td>{{ f(m.fp_per_scan) }}</td></tr>
{% endfor %}</table>
<h2>Patient level</h2>
<table><tr><th>score</th><th>ICC(2,1)</th><th>95 % CI</th><th>bias</th><th>limits of agreement</th></tr>
{% for name, p in patient %}<tr><td>{{ name }}</td><td>{{ f(p.icc) }}</td>
<td>{{ f(p.ci_low) }} – {{ f(p.ci_high) }}</td>
<td>{{ f(p.bias) }}</td><td>{{ f(p.lower) }} – {{ f(p.upper) }}</td></tr>
{% endfor %}</table>
<p>Risk category ({{ scheme }}): linearly weighted κ {{ f(kappa) }}, same category {{ f(share) }}.</p>
<img src="bland_altman.png" alt="Bland-Altman plots"> <img src="confusion_matrix.png" alt="confusion matrix">
<h2>Cases</h2>
<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in columns %}<td>{{ f(row[c]) }}</td>{% endfor %}</tr>
{% endfor %}</table>
</body></html>
"""


def summary_html(summary: dict, rows: list[dict]) -> str:
    """A self-contained HTML page (figures referenced beside it) of the summary and the case table."""
    import jinja2

    def f(value):
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return value

    patient = []
    for key, name in (("agatston", "Agatston"), ("volume_mm3", "volume (mm³)")):
        p = summary["patient"][key]
        icc = p["icc_2_1"] or {}
        ba = p["bland_altman"]
        patient.append(
            (name, {"icc": icc.get("icc"), "ci_low": icc.get("ci_low"), "ci_high": icc.get("ci_high"),
                    "bias": ba["bias"], "lower": ba["lower"], "upper": ba["upper"]})
        )  # fmt: skip
    lesion = sorted(summary["lesion"].items(), key=lambda kv: (kv[0] != "overall", kv[0]))
    s = summary["settings"]
    template = jinja2.Environment(autoescape=True).from_string(_HTML)
    return template.render(
        n_cases=summary["n_cases"],
        settings_text=f"min area {s['min_area_mm2']:g} mm², {s['connectivity']}-connected, {s['convention']}",
        lesion=lesion,
        patient=patient,
        scheme=summary["patient"]["risk_category"]["scheme"],
        kappa=summary["patient"]["risk_category"]["kappa_linear"],
        share=summary["patient"]["risk_category"]["share_same"],
        columns=CASE_COLUMNS,
        rows=rows,
        f=f,
    )


def _save(fig, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _json_default(value):
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
