"""Run a model on the two real chest CTs (../shared/data/real-chest-ct); show every lesion it calls coronary.

The scans have no calcium annotation; what is known without one (their README) is that nothing in a rib,
vertebra, the sternum, the costal cartilage, the liver or below the diaphragm is coronary calcium. For each
scan this prints the total Agatston score and, for every candidate called coronary, its artery,
probability, slices, Agatston, volume, peak HU and two anatomical facts measured here independently of the
classifier: the volume of the bright (>= 130 HU) structure it belongs to in the whole scan (bone is tens of
ml) and whether it lies in the abdomen-only slices. With ``-o`` it also writes one picture per called
lesion (the axial slice, soft-tissue window, its outline in the artery colour), one picture per scan of
every slice with a call (``<scan>_calls.png``, the calls in artery colours and the calls the decision
rule's anatomy ruled out in yellow, dashed; docs/results.md shows them) and results.json.

    .venv/bin/python benchmarks/real_chest_ct.py [--model DIR] [-o OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from cacscore.detection.pipeline import PredictOptions, load_predictor
from cacscore.io import read_volume
from cacscore.labels import Artery
from cacscore.scoring import score_volume

REPO = Path(__file__).resolve().parents[1]
SCANS = REPO.parent / "shared" / "data" / "real-chest-ct"
#: Slices that hold only abdomen (liver, stomach, spleen, kidneys), read off the scans (docs/results.md).
ABDOMEN_ONLY = {"lung2": range(0, 15), "lung1": range(0, 0)}
#: A bright structure this large (ml) is bone, not a plaque (the largest coronary plaques are ~1-2 ml).
BONE_ML = 5.0


def called_lesions(name: str, volume, prediction) -> list[dict]:
    """One entry per candidate called coronary, with the independent anatomical facts."""
    bright, _ = ndi.label(volume.hu >= 130.0, structure=ndi.generate_binary_structure(3, 3))
    sizes_ml = np.bincount(bright.ravel()) * volume.voxel_volume_mm3 / 1000.0
    rows = []
    for cand, probs, code in zip(prediction.candidates.candidates, prediction.probabilities,
                                 prediction.classes, strict=True):
        if not code:
            continue
        own = prediction.candidates.label_map == cand.index
        lesion_score = score_volume(volume, np.where(own, code, 0).astype(np.uint8))
        structure_ml = float(sizes_ml[bright[cand.peak_zyx]])
        slices = list(range(cand.bbox_zyx[0], cand.bbox_zyx[3]))
        rows.append({
            "scan": name,
            "index": cand.index,
            "artery": Artery(int(code)).name,
            "probability_coronary": round(1.0 - float(probs[0]), 3),
            "slices": [slices[0], slices[-1]],
            "centroid_zyx": [round(float(c), 1) for c in cand.centroid_zyx],
            "agatston": round(float(lesion_score.agatston["total"]), 1),
            "volume_mm3": round(cand.volume_mm3, 1),
            "peak_hu": cand.peak_hu,
            "bright_structure_ml": round(structure_ml, 2),
            "in_bone_structure": structure_ml >= BONE_ML,
            "in_abdomen_only_slices": any(z in ABDOMEN_ONLY[name] for z in slices),
        })
    return rows


def picture(volume, prediction, row: dict, path: Path) -> None:
    """The axial slice through the lesion's largest part (level 40, width 400 HU), outline in artery colour,
    a 100 mm square around it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    own = prediction.candidates.label_map == row["index"]
    z = int(np.argmax(own.sum(axis=(1, 2))))
    cy, cx = (round(float(v)) for v in np.argwhere(own[z]).mean(axis=0))
    half = int(50 / volume.spacing_zyx_mm[1])
    y0, x0 = max(cy - half, 0), max(cx - half, 0)
    crop = np.s_[y0 : cy + half, x0 : cx + half]
    fig, ax = plt.subplots(1, 2, figsize=(8, 4.2))
    for a, (lo, hi) in zip(ax, ((-160, 240), (-400, 1200)), strict=True):
        a.imshow(volume.hu[z][crop], cmap="gray", vmin=lo, vmax=hi)
        a.contour(own[z][crop], [0.5], colors=[Artery[row["artery"]].colour], linewidths=1.0)
        a.axis("off")
    fig.suptitle(f"{row['scan']} slice {z}: called {row['artery']} (p {row['probability_coronary']}), "
                 f"{row['agatston']} Agatston", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def calls_picture(name: str, volume, prediction, path: Path, columns: int = 4) -> None:
    """Every slice holding a call or a call ruled out by anatomy, cropped to the box of the heart ROI and of
    those candidates plus 10 mm (window W 700, L 100), outlines in artery colours (ruled out: yellow,
    dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    labels = prediction.candidates.label_map
    cands = prediction.candidates.candidates
    called = {c.index: Artery(int(k)) for c, k in zip(cands, prediction.classes, strict=True) if k}
    ruled_out = [c.index for c, why in zip(cands, prediction.overruled, strict=True) if why]
    shown = called.keys() | set(ruled_out)
    slices = sorted({int(z) for i in shown for z in np.flatnonzero((labels == i).any(axis=(1, 2)))})
    if not slices:
        return
    region = prediction.scan.roi | np.isin(labels, list(shown))
    margin = int(10 / volume.spacing_zyx_mm[1])
    ys, xs = (np.flatnonzero(region.any(axis=a)) for a in ((0, 2), (0, 1)))
    crop = np.s_[max(ys[0] - margin, 0): ys[-1] + margin, max(xs[0] - margin, 0): xs[-1] + margin]
    columns = min(columns, len(slices))
    rows = -(-len(slices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, z in zip(axes.ravel(), slices, strict=False):
        ax.imshow(volume.hu[z][crop], cmap="gray", vmin=-250, vmax=450)
        here = labels[z][crop]
        for index, artery in called.items():
            if (here == index).any():
                ax.contour(here == index, [0.5], colors=[np.array(artery.colour) / 255], linewidths=1)
        for index in ruled_out:
            if (here == index).any():
                ax.contour(here == index, [0.5], colors="yellow", linewidths=1.5, linestyles="dashed")
        ax.set_title(f"{name} slice {z}", fontsize=8)
    handles = [Line2D([], [], color=np.array(a.colour) / 255, label=a.name)
               for a in (Artery.LAD, Artery.LCX, Artery.RCA)]
    handles.append(Line2D([], [], color="gold", linestyle="dashed", label="ruled out by anatomy"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="pictures and results.json here")
    args = parser.parse_args(argv)
    predictor = load_predictor(PredictOptions(model_dir=args.model, kvp=120.0))
    summary = {"model": predictor.model_info, "scans": {}}
    for name in ("lung1", "lung2"):
        volume = read_volume(SCANS / f"{name}_image.nrrd")
        prediction = predictor.predict_volume(volume)
        rows = called_lesions(name, volume, prediction)
        total = float(prediction.score.agatston["total"])
        bad = [r for r in rows if r["in_bone_structure"] or r["in_abdomen_only_slices"]]
        summary["scans"][name] = {"agatston_total": round(total, 1), "candidates": len(prediction.candidates),
                                  "called": rows, "called_in_bone_or_abdomen": len(bad),
                                  "warnings": list(prediction.warnings)}
        print(f"{name}: {len(prediction.candidates)} candidates, {len(rows)} called coronary, "
              f"Agatston {total:.1f}; in bone or abdomen: {len(bad)}")
        for r in rows:
            print(f"  #{r['index']:<4} {r['artery']:4} p {r['probability_coronary']:.2f} slices "
                  f"{r['slices'][0]}-{r['slices'][1]} Agatston {r['agatston']:7.1f} peak {r['peak_hu']:6.0f} "
                  f"structure {r['bright_structure_ml']:6.2f} ml{'  BONE' if r['in_bone_structure'] else ''}"
                  f"{'  ABDOMEN' if r['in_abdomen_only_slices'] else ''}")
        for w in prediction.warnings:
            print(f"  warning: {w}")
        if args.output is not None:
            args.output.mkdir(parents=True, exist_ok=True)
            for r in rows:
                picture(volume, prediction, r, args.output / f"{name}_{r['index']}_{r['artery']}.png")
            calls_picture(name, volume, prediction, args.output / f"{name}_calls.png")
    if args.output is not None:
        (args.output / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
