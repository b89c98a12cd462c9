"""PNG montage of a phantom case: axial slices through its lesions, outlined in artery colours."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cacscore.io.atomic import atomic_path
from cacscore.labels import Artery
from cacscore.phantom.generator import PhantomCase
from cacscore.phantom.lookalikes import LookAlike

#: Colour (RGB 0-255) of look-alike outlines (not coronary calcium).
LOOKALIKE_COLOUR: tuple[int, int, int] = (0, 210, 230)
#: Look-alikes outlined in a montage: the calcifications and metal, not bone, cartilage or noise.
OUTLINED: tuple[int, ...] = tuple(
    int(c)
    for c in (
        LookAlike.AORTIC_WALL,
        LookAlike.AORTIC_VALVE,
        LookAlike.MITRAL_ANNULUS,
        LookAlike.LYMPH_NODE,
        LookAlike.METAL,
        LookAlike.LUNG_GRANULOMA,
        LookAlike.ABDOMINAL,
    )
)
#: Display window (level, width) in HU: a soft-tissue window wide enough to tell calcium levels apart.
WINDOW_HU: tuple[float, float] = (60.0, 700.0)


def choose_slices(case: PhantomCase, n: int = 6) -> list[int]:
    """Slices with the most lesion voxels first, then calcified look-alikes, then evenly spread ones."""
    per_slice_les = (case.labels > 0).sum(axis=(1, 2))
    look = np.isin(case.lookalikes, OUTLINED)
    per_slice_look = look.sum(axis=(1, 2))
    chosen: list[int] = []
    for counts in (per_slice_les, per_slice_look):
        for k in np.argsort(-counts, kind="stable"):
            if counts[k] == 0 or len(chosen) >= n:
                break
            if all(abs(int(k) - c) > 1 for c in chosen):
                chosen.append(int(k))
            if len([c for c in chosen if counts[c] > 0]) >= (n + 1) // 2 and counts is per_slice_les:
                break
    nz = case.volume.shape[0]
    for k in np.linspace(nz * 0.2, nz * 0.8, n).astype(int):
        if len(chosen) >= n:
            break
        if all(abs(int(k) - c) > 1 for c in chosen):
            chosen.append(int(k))
    return sorted(chosen[:n])


def write_montage(case: PhantomCase, path: str | os.PathLike[str], n_slices: int = 6, dpi: int = 60) -> Path:
    """Write a PNG (matplotlib Agg) of ``n_slices`` axial slices with label and look-alike outlines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    slices = choose_slices(case, n_slices)
    level, width = WINDOW_HU
    cols = 3
    rows = int(np.ceil(len(slices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 4, rows * 4 + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, k in zip(axes.ravel(), slices, strict=False):
        ax.imshow(
            case.volume.hu[k],
            cmap="gray",
            vmin=level - width / 2,
            vmax=level + width / 2,
            interpolation="nearest",
        )
        for code in (Artery.LAD, Artery.LCX, Artery.RCA):
            m = case.labels[k] == code
            if m.any():
                ax.contour(m, levels=[0.5], colors=[np.array(code.colour) / 255], linewidths=1.0)
        lk = np.isin(case.lookalikes[k], OUTLINED)
        if lk.any():
            ax.contour(lk, levels=[0.5], colors=[np.array(LOOKALIKE_COLOUR) / 255], linewidths=0.8)
        ax.set_title(f"slice {k}", fontsize=9)
    handles = [
        Line2D([], [], color=np.array(a.colour) / 255, label=a.name)
        for a in (Artery.LAD, Artery.LCX, Artery.RCA)
    ]
    handles.append(Line2D([], [], color=np.array(LOOKALIKE_COLOUR) / 255, label="look-alike"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9, frameon=False)
    t = case.truth
    scores = t.get("scores") or {}
    ag = scores.get("agatston", {}) if isinstance(scores, dict) else {}
    total = ag.get("total") if isinstance(ag, dict) else ag
    fig.suptitle(
        f"cacscore phantom seed {t['seed']} ({t['vendor']}): {len(t['lesions'])} lesions"
        + (f", Agatston {total:.0f}" if isinstance(total, int | float) else ""),
        fontsize=10,
    )
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.06, top=0.92, wspace=0.03, hspace=0.1)
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return target
