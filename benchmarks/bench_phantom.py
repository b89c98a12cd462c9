"""Time per phantom case for each vendor preset, at the size the issue fixes (512 x 512 x 60).

Usage: .venv/bin/python benchmarks/bench_phantom.py [--repeats N] [--threads 2] [--calibration]

Prints a table: vendor, shape, wall and CPU seconds per case (median of N), wall without the truth
scoring, and the ratio to the 5 s goal. On a shared machine the wall time grows with the load; the CPU
time does not. Threads are limited (OMP/MKL/OpenBLAS and scipy.fft workers=2) to the 2 cores the goal
names. ``--calibration`` prints instead the table of docs/phantom.md: the real QRM scan against its
replica with the canon preset (noise SD and per-insert Agatston, same measuring code on both, 3 seeds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--calibration", action="store_true")
    args = parser.parse_args()
    if args.calibration:
        calibration_table()
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    from cacscore.phantom import VENDOR_PRESETS, generate_case

    generate_case(0, "siemens", n_slices=8)  # warm-up (imports, FFT plans)
    print(
        f"{'vendor':8} {'shape':>14} {'wall s/case':>11} {'CPU s/case':>10} "
        f"{'wall, no score':>14} {'vs 5 s':>7}"
    )
    for vendor in VENDOR_PRESETS:
        walls, cpus, walls_ns = [], [], []
        shape = None
        for r in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            case = generate_case(100 + r, vendor, n_slices=args.slices)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            t0 = time.perf_counter()
            generate_case(100 + r, vendor, n_slices=args.slices, score=False)
            walls_ns.append(time.perf_counter() - t0)
            shape = "x".join(str(s) for s in case.volume.shape)
        wall = statistics.median(walls)
        print(
            f"{vendor:8} {shape:>14} {wall:11.2f} {statistics.median(cpus):10.2f} "
            f"{statistics.median(walls_ns):14.2f} {wall / 5.0:6.2f}x"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (CPU s/case is the load-independent figure)")


def calibration_table(seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Markdown table: real QRM scan vs canon replica (mean over seeds), per insert, and noise SD."""
    import json
    from pathlib import Path

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
