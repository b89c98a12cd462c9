"""Time and memory per phantom case, and the figures of docs/phantom.md.

Usage:
    .venv/bin/python benchmarks/bench_phantom.py [--repeats N] [--threads 1]
    .venv/bin/python benchmarks/bench_phantom.py --calibration
    .venv/bin/python benchmarks/bench_phantom.py --figures docs/img [--before BEFORE.nii.gz]
    .venv/bin/python benchmarks/bench_phantom.py --valve-figure docs/img

Speed: one row per configuration (the four vendor presets and the random gated protocol at 512 x 512 x
60, the random chest protocol at 5, 2.5 and 1.25 mm), each case generated in a fresh process so that its
peak memory (max RSS) is its own; CPU seconds are the load-independent figure (goals: <= 8 s for a 60-slice
gated case, <= 15 s for a chest case, < 3 GB). ``--calibration`` prints the table of docs/phantom.md: the
real QRM scan against its replica with the canon preset. ``--figures`` writes the phantom beside the two
real chest CTs at three levels in a soft-tissue and a bone window (``--before``: a volume of the earlier
phantom, with a ``.json`` of its slice per level, for a "before" column) and the aortic valve and root
figure, which ``--valve-figure`` writes alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

#: (label, vendor, overrides) of the speed table.
CONFIGS = (
    ("siemens", "siemens", {"n_slices": 60}),
    ("philips", "philips", {"n_slices": 60}),
    ("ge", "ge", {"n_slices": 60}),
    ("canon", "canon", {"n_slices": 60}),
    ("random gated", "random", {"protocol": "gated", "n_slices": 60}),
    ("chest 5 mm", "random", {"protocol": "chest", "slice_thickness_mm": 5.0, "slice_increment_mm": 5.0}),
    ("chest 2.5 mm", "random", {"protocol": "chest", "slice_thickness_mm": 2.5, "slice_increment_mm": 2.5}),
    (
        "chest 1.25 mm",
        "random",
        {"protocol": "chest", "slice_thickness_mm": 1.25, "slice_increment_mm": 1.25},
    ),
)

_CHILD = """
import json, resource, sys, time
from cacscore.phantom import generate_case
seed, vendor, kw = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
generate_case(0, "siemens", n_slices=4, score=False)  # imports, FFT plans
c0 = time.process_time()
case = generate_case(seed, vendor, category=3, **kw)
cpu = time.process_time() - c0
print(json.dumps({"cpu": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": list(case.volume.shape)}))
"""

REAL = {
    "lung2_image.nrrd": {"root": 30, "mid": 24, "bottom": 18},
    "lung1_image.nrrd": {"root": 13, "mid": 7, "bottom": 1},
}
LEVELS = {"root": "heart base / aortic root", "mid": "mid heart", "bottom": "heart bottom / liver dome"}
WINDOWS = {"soft": (40.0, 400.0), "bone": (500.0, 2000.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calibration", action="store_true")
    parser.add_argument("--figures", metavar="DIR")
    parser.add_argument("--valve-figure", metavar="DIR")
    parser.add_argument("--before", metavar="VOLUME")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    if args.calibration:
        calibration_table()
    elif args.figures:
        figures(Path(args.figures), args.seed, args.before)
    elif args.valve_figure:
        valve_figure(Path(args.valve_figure), _real_dir())
    else:
        speed_table(args.repeats, args.threads)


def speed_table(repeats: int, threads: int) -> None:
    """Markdown table: shape, CPU seconds and peak memory per case, median over ``repeats`` seeds."""
    env = {
        **os.environ,
        **{v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }
    print("| configuration | shape (z, y, x) | CPU s/case | peak memory (MB) |")
    print("|---|---|---:|---:|")
    for label, vendor, kw in CONFIGS:
        runs = []
        for r in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(100 + r), vendor, json.dumps(kw)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        shape = " x ".join(str(n) for n in runs[0]["shape"])
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        print(f"| {label} | {shape} | {cpu:.1f} | {rss:.0f} |")
    print(f"\n{threads} thread(s); load average at the end {os.getloadavg()[0]:.1f}")


def figures(out_dir: Path, seed: int, before: str | None) -> None:
    """The phantom (chest protocol, 5 mm, like the real scans) beside lung2 and lung1 at three levels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from cacscore.io import read_volume
    from cacscore.phantom import generate_case

    real_dir = _real_dir()
    case = generate_case(
        seed,
        "random",
        protocol="chest",
        slice_thickness_mm=5.0,
        slice_increment_mm=5.0,
        category=3,
        score=False,
    )
    heart, z = case.geometry["heart"], case.geometry["grid"].axis_mm(0)
    wanted = {"root": heart.root_centre[2], "mid": heart.centre[2] - 10, "bottom": heart.floor_z + 8}
    columns = [
        (f"{name.split('_')[0]} (real)", read_volume(real_dir / name), idx) for name, idx in REAL.items()
    ]
    if before:
        columns.append(
            ("phantom before", read_volume(before), json.loads(Path(before + ".json").read_text()))
        )
    columns.append(
        ("phantom now", case.volume, {k: int(np.argmin(np.abs(z - v))) for k, v in wanted.items()})
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    for wname, (level, width) in WINDOWS.items():
        fig, axes = plt.subplots(3, len(columns), figsize=(4 * len(columns), 9.6), squeeze=False)
        for c, (title, vol, idx) in enumerate(columns):
            _, sy, sx = vol.spacing_zyx_mm
            ny, nx = vol.shape[1:]
            extent = (-nx * sx / 2, nx * sx / 2, ny * sy / 2, -ny * sy / 2)
            for r, key in enumerate(LEVELS):
                ax = axes[r, c]
                ax.imshow(
                    vol.hu[idx[key]],
                    cmap="gray",
                    vmin=level - width / 2,
                    vmax=level + width / 2,
                    extent=extent,
                    interpolation="bilinear",
                )
                ax.set_xlim(-165, 165)
                ax.set_ylim(120, -120)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{title}, slice {idx[key]}" if r == 0 else f"slice {idx[key]}", fontsize=9)
                if c == 0:
                    ax.set_ylabel(LEVELS[key], fontsize=10)
        fig.suptitle(
            f"window L{level:g} W{width:g}; 330 x 240 mm; phantom: seed {seed}, chest protocol, 5 mm slices",
            fontsize=10,
        )
        fig.tight_layout()
        fig.savefig(out_dir / f"phantom_vs_real_{wname}.png", dpi=60)
        plt.close(fig)
    valve_figure(out_dir, real_dir)


def _real_dir() -> Path:
    """../shared/data/real-chest-ct (``CACSCORE_SHARED`` overrides ../shared)."""
    shared = Path(os.environ.get("CACSCORE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return shared / "data" / "real-chest-ct"


def valve_figure(out_dir: Path, real_dir: Path, first_seed: int = 9300, n: int = 3) -> None:
    """lung1's calcified aortic root and valve beside the first ``n`` gated phantom cases from
    ``first_seed`` on (siemens, category >400) with aortic valve calcium, the same 114 mm square and window
    (L150 W700): top row the valve at its largest slice (lung1: slice 12), its calcium outlined in yellow;
    bottom row 10 mm higher, the root above the valve in its collar of fat (lung1: slice 14)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from cacscore.io import read_volume
    from cacscore.phantom import LookAlike, generate_case

    side_mm, above_mm = 114.0, 10.0
    real = read_volume(real_dir / "lung1_image.nrrd")
    columns = [("real lung1", real, 12, (320, 280), None)]
    seed = first_seed
    while len(columns) < n + 1:
        case = generate_case(seed, "siemens", category=4, score=False)
        valve = case.lookalikes == LookAlike.AORTIC_VALVE
        if valve.any():
            z = int(np.argmax(valve.sum(axis=(1, 2))))
            centre = tuple(np.argwhere(valve[z]).mean(axis=0).astype(int))
            columns.append((f"phantom seed {seed}", case.volume, z, centre, valve))
        seed += 1
    fig, axes = plt.subplots(2, len(columns), figsize=(4.5 * len(columns), 9.2))
    for col, (title, vol, z0, (cy, cx), valve) in enumerate(columns):
        h = int(side_mm / 2 / vol.spacing_zyx_mm[1])
        box = (slice(cy - h, cy + h), slice(cx - h, cx + h))
        # slice index grows towards the head in both (LPS +z; the phantom's and lung1's direction cosines)
        step = round(above_mm / vol.spacing_zyx_mm[0])
        for row, z in enumerate((z0, min(z0 + step, vol.shape[0] - 1))):
            ax = axes[row, col]
            ax.imshow(vol.hu[z][box], cmap="gray", vmin=-200, vmax=500, extent=(0, side_mm, side_mm, 0))
            if valve is not None and valve[z][box].any():
                grid = np.linspace(0, side_mm, 2 * h)
                ax.contour(grid, grid, valve[z][box], [0.5], colors="yellow", linewidths=0.7)
            where = "valve" if row == 0 else f"{above_mm:.0f} mm higher: the root"
            ax.set_title(f"{title}, slice {z} ({where})", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("aortic valve and root: real (left) and phantom (valve calcium in yellow); 114 mm, "
                 "L150 W700", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_dir / "phantom_aortic_valve.png", dpi=60)
    plt.close(fig)


def calibration_table(seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Markdown table: real QRM scan vs canon replica (mean over seeds), per insert, and noise SD."""
    import numpy as np

    from cacscore.io import read_volume
    from cacscore.phantom.qrm import QRM_INSERTS, generate_qrm_replica, measure_inserts, measure_noise_sd

    shared = Path(os.environ.get("CACSCORE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    qrm = shared / "data" / "qrm-phantom"
    real = read_volume(qrm / "dicom")
    published = json.loads((qrm / "reference.json").read_text())["published_scores"]["agatston"]
    m_real = measure_inserts(real)
    reps = [generate_qrm_replica("canon", seed=s).volume for s in seeds]
    m_reps = [measure_inserts(v) for v in reps]
    print("| insert | published FQM | real scan (ours) | replica mean | replica min-max | difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in QRM_INSERTS:
        vals = [m[name]["agatston"] for m in m_reps]
        r = m_real[name]["agatston"]
        diff = f"{(np.mean(vals) / r - 1) * 100:+.1f} %" if r > 0 else "-"
        print(
            f"| {name} | {published[name]:.1f} | {r:.1f} | {np.mean(vals):.1f} | "
            f"{min(vals):.1f}-{max(vals):.1f} | {diff} |"
        )
    sd_real = measure_noise_sd(real)
    sd_rep = [measure_noise_sd(v) for v in reps]
    print(
        f"| noise SD (HU) | 21.57 (reference.json) | {sd_real:.2f} | {np.mean(sd_rep):.2f} | "
        f"{min(sd_rep):.2f}-{max(sd_rep):.2f} | {(np.mean(sd_rep) / sd_real - 1) * 100:+.1f} % |"
    )


if __name__ == "__main__":
    main()
