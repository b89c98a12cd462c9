"""Wall time and peak memory of ``predict`` on one 512x512x60 scan, side by side in one run.

Each row runs in its own process (``cacscore predict`` from the command line, or a small Python driver), so
wall time includes starting Python, importing torch, loading the model, reading the scan and writing every
output, and the peak resident memory (``ru_maxrss`` of the finished child) is that process's alone.

    .venv/bin/python benchmarks/bench_predict.py [--threads 2] [--repeat 3] [--workdir /tmp/cac/bench]

Rows: NIfTI input with the automatic heart ROI (the default), NIfTI with a given heart mask, a DICOM series
(with the DICOM SEG written), the in-process time of a second scan once the model is loaded (what a
batch worker sees per case), and ``cacscore batch`` on ``--batch`` scans with 2 workers: wall time per scan
(the goal: <= 2.5 s per scan over a batch on 2 cores, peak memory < 2 GiB per process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DRIVER = r"""
import sys, time, resource
from cacscore.detection.pipeline import PredictOptions, load_predictor
from cacscore.case_folder import predict_to_folder
t0 = time.perf_counter()
predictor = load_predictor(PredictOptions())
load = time.perf_counter() - t0
predict_to_folder(sys.argv[1], sys.argv[2] + "/warm", PredictOptions(), predictor)
t1 = time.perf_counter()
outcome = predict_to_folder(sys.argv[1], sys.argv[2] + "/timed", PredictOptions(), predictor)
print(f"{time.perf_counter() - t1:.3f} {load:.3f} {outcome.status}")
"""


#: Runs a command and prints the peak RSS (KiB) of that command alone: a fresh wrapper per measurement, so
#: RUSAGE_CHILDREN holds exactly one child.
PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(r.returncode)"
)


def run_child(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds (user + system, all threads)) of the command."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *cmd], capture_output=True, text=True, env=env,
                          check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    peak_kib, cpu = (float(v) for v in done.stderr.strip().splitlines()[-1].split())
    return wall, peak_kib / 1024.0, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch/ONNX (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is shown")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cacscore-bench-predict"))
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--batch", type=int, default=8, help="scans in the batch row (0: no batch row)")
    args = parser.parse_args(argv)

    from cacscore.io import write_dicom_series, write_mask, write_volume
    from cacscore.phantom import generate_case

    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    (work / "in").mkdir(parents=True)
    case = generate_case(args.seed, "siemens", category=3, n_slices=60)
    assert case.volume.shape == (60, 512, 512), case.volume.shape
    nifti = work / "in" / "scan.nii.gz"
    write_volume(case.volume, nifti)
    heart = work / "in" / "heart.nii.gz"
    write_mask(case.heart_mask, case.volume, heart)
    dicom = work / "in" / "dicom"
    write_dicom_series(case.volume, dicom)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), CACSCORE_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    cli = [sys.executable, "-m", "cacscore.cli.main", "-q", "predict"]
    rows = [
        ("NIfTI, automatic heart ROI", [*cli, str(nifti), "-o", "{out}"]),
        ("NIfTI, given heart mask", [*cli, str(nifti), "-o", "{out}", "--heart-mask", str(heart)]),
        ("DICOM series (+ SEG)", [*cli, str(dicom), "-o", "{out}"]),
    ]
    spacing = tuple(round(s, 3) for s in case.volume.spacing_zyx_mm)
    print(f"scan {case.volume.shape} (z, y, x), spacing {spacing} mm; {args.threads} threads; "
          f"median of {args.repeat}")
    load = os.getloadavg()[0]
    print(f"1-min load average at the start: {load:.1f}")
    print(f"{'configuration':36} {'wall s':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
    for name, template in rows:
        walls, cpus, peaks = [], [], []
        for i in range(args.repeat):
            out = work / f"out-{rows.index((name, template))}-{i}"
            cmd = [c.replace("{out}", str(out)) for c in template]
            wall, peak, cpu = run_child(cmd, env)
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        print(f"{name:36} {sorted(walls)[len(walls) // 2]:7.2f} {sorted(cpus)[len(cpus) // 2]:7.2f} "
              f"{max(peaks):13.0f}")
    walls, loads = [], []
    for i in range(args.repeat):
        done = subprocess.run([sys.executable, "-c", DRIVER, str(nifti), str(work / f"drv{i}")],
                              capture_output=True, text=True, env=env, check=True)
        seconds, load, status = done.stdout.split()
        assert status == "ok", done.stderr
        walls.append(float(seconds))
        loads.append(float(load))
    print(f"{'in process, model loaded (per case)':36} {sorted(walls)[len(walls) // 2]:7.2f}")
    print(f"{'  (model load, once)':36} {sorted(loads)[len(loads) // 2]:7.2f}")
    if args.batch:
        cohort = work / "cohort"
        for k in range(args.batch):
            other = generate_case(args.seed + 1 + k, ("siemens", "philips", "ge", "canon")[k % 4],
                                  category=k % 5, n_slices=60)
            write_volume(other.volume, cohort / f"case{k:02d}.nii.gz")
        one = dict(env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # the runner gives each worker a core
        wall, peak, cpu = run_child([*cli[:-1], "batch", str(cohort), "-o", str(work / "batch-out"),
                                     "--workers", "2"], one)
        print(f"{f'batch of {args.batch}, 2 workers (per scan)':36} {wall / args.batch:7.2f} "
              f"{cpu / args.batch:7.2f} {peak:13.0f}")
    print(f"1-min load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
