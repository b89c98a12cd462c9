"""A plain-text per-artery table of a :class:`~cacscore.scoring.ScoreResult` (for terminals and logs)."""

from __future__ import annotations

from cacscore.scoring.score import ScoreResult


def score_table(result: ScoreResult) -> str:
    """Per artery and total: Agatston (3 mm-normalised; raw too when it differs), volume, mass, lesions."""
    show_raw = any(abs(result.agatston[k] - result.agatston_raw[k]) > 1e-9 for k in result.agatston)
    header = (
        ["artery", "Agatston"] + (["Agatston raw"] if show_raw else []) + ["volume mm3", "mass mg", "lesions"]
    )
    rows = []
    for key in [k for k in result.agatston if k != "total"] + ["total"]:
        n = sum(1 for les in result.lesions if key == "total" or les.artery.name == key)
        mass = result.mass_mg[key]
        row = [key, f"{result.agatston[key]:.1f}"]
        if show_raw:
            row.append(f"{result.agatston_raw[key]:.1f}")
        row += [f"{result.volume_mm3[key]:.1f}", "n/a" if mass is None else f"{mass:.1f}", str(n)]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    lines = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]
    lines.append(
        f"risk category {result.risk_category.label} ({result.risk_category.scheme}); {result.cac_drs}"
    )
    s = result.settings
    lines.append(
        f"threshold {result.threshold_hu} HU, min area {s.min_area_mm2:g} mm2"
        + (f", min {s.min_voxels} voxels" if s.min_voxels else "")
        + f", {s.connectivity}-connected, {s.convention} lesions"
        + f", increment {result.scan['increment_mm']:g} mm"
    )
    return "\n".join(lines)
