"""The paper's pipeline against cacscore's default pipeline, side by side in one run on the same scans.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--scans 3] [--seed 9100] [--model DIR]``
(about 3-6 minutes on 2 cores). Prints one Markdown table (copied into BENCHMARKS.md).

What is measured, on the same phantom scans (``cacscore.phantom.generate_case``, 512 x 512, written to
.nii.gz and read back by each pipeline):

- **paper**: read the scan, heart ROI, the paper's 52 x 52 windows
  (``cacscore.patch_windows.extract_patches``) over every ROI slice, windows touching the ROI kept with
  outside pixels set black (the paper's Figure 1(c)), then the "paper" recipe's preprocessing (HU window to
  [0, 1], bilinear resize to 227 x 227) and AlexNet (untrained weights, which cost the same time as trained
  ones). The paper describes training patches only, not how a whole scan is scored: the windows are cut side
  by side (every 52 px, each ROI pixel classified once), the paper's method at its cheapest. The overlapping
  grid the paper cuts where calcium is (every 26 px), which finding calcium anywhere would need, is counted
  but not timed (4x more).
- **default**: read the scan and :meth:`Predictor.predict_volume` (heart ROI, candidates,
  candidate network, scoring), with the PyTorch and the ONNX Runtime engine.

Both use the same heart ROI method: ``cacscore.roi.heart_roi`` when installed, else the phantom's own heart
mask (the table says which), timed as its own step. The paper's ROI was delineated by hand, so the table
gives each scan's time both with the ROI computed and with it given (the same runs, minus the ROI step).
Each pipeline runs in a fresh process (so the peak resident memory is its own),
loads its model once, warms up on the first scan, then times every scan; the table gives the median. Per-patch
throughput feeds batches of 256 patches to the network alone (with the paper's resize). Wall and CPU seconds
(``time.process_time``, all threads) are both given: on a machine shared with other jobs the wall time depends
on them, the CPU time much less. Batch throughput runs
``cacscore.batch.run_batch`` with 1 and 2 local worker processes on the same scans (wall time including model
loading, as a user sees it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PATCH_BATCH = 256


# ----- scans and models (parent process) ------------------------------------------------------------------


def make_scans(folder: Path, n_scans: int, seed: int) -> list[tuple[Path, Path]]:
    """Phantom scans as .nii.gz with their heart masks: [(image, heart mask)]."""
    from cacscore.io import write_mask, write_volume
    from cacscore.phantom import generate_case

    scans = []
    for i in range(n_scans):
        case = generate_case(seed + i, vendor=("siemens", "philips", "ge", "canon")[i % 4], score=False)
        image = write_volume(case.volume, folder / "images" / f"scan{i}.nii.gz", compress=True)
        mask = write_mask(case.heart_mask.astype(np.uint8), case.volume, folder / "masks" / f"scan{i}.nii.gz")
        scans.append((image, mask))
    return scans


def default_model(folder: Path, given: str | None) -> tuple[Path, str]:
    """The default pipeline's model: given, else the shipped one, else a random-weight candidate model."""
    if given:
        return Path(given), f"given ({given})"
    try:
        from cacscore.detection.pipeline import shipped_model_dir

        return shipped_model_dir(), "shipped"
    except Exception:  # no shipped model in this checkout: same network, random weights, same cost
        import torch

        from cacscore.detection.classifier import CandidateInputSpec
        from cacscore.models import MODELS, build_model
        from cacscore.models.candidate_net import CLASS_CODES, CLASS_NAMES
        from cacscore.models.checkpoint import save_model_folder

        name = next(n for n, s in MODELS.items() if s.target.endswith("candidate_net:CandidateNet"))
        spec = CandidateInputSpec()
        torch.manual_seed(0)
        model = build_model(name, n_features=spec.n_features)
        path = save_model_folder(
            folder / "random-model", model, architecture=name,
            architecture_kwargs={"n_features": spec.n_features},
            config={"input_spec": spec.to_dict(), "inputs": spec.input_shapes(),
                    "class_codes": list(CLASS_CODES), "class_names": list(CLASS_NAMES)},
        )
        return path, "candidate network, random weights (no shipped model yet)"


def _batch_cohort(root: Path, scans: list[tuple[Path, Path]], n_cases: int) -> int:
    """``n_cases`` scans for the batch measurement: the benchmark's scans, repeated under new names."""
    import shutil

    for i in range(n_cases):
        image, mask = scans[i % len(scans)]
        for src, folder in ((image, "batch_images"), (mask, "batch_masks")):
            (root / folder).mkdir(exist_ok=True)
            shutil.copy(src, root / folder / f"case{i}.nii.gz")
    return n_cases


def roi_method() -> str:
    try:
        from cacscore.detection.heart_roi import heart_roi  # noqa: F401
    except ImportError:
        return "phantom heart mask"
    return "cacscore.roi.heart_roi"


# ----- what runs in a child process -------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _roi(volume, mask_path: str, method: str) -> np.ndarray:
    if method == "cacscore.roi.heart_roi":
        from cacscore.detection.heart_roi import heart_roi

        return np.asarray(heart_roi(volume), dtype=bool)
    from cacscore.io import read_mask

    return read_mask(mask_path, like=volume) > 0


class _Clock:
    """Wall and CPU seconds of a whole scan and of its heart-ROI step."""

    def __init__(self) -> None:
        self.wall = self.cpu = self.roi_wall = self.roi_cpu = 0.0

    def roi(self, volume, mask: str, method: str) -> np.ndarray:
        t, c = time.perf_counter(), time.process_time()
        roi = _roi(volume, mask, method)
        self.roi_wall += time.perf_counter() - t
        self.roi_cpu += time.process_time() - c
        return roi


def _time_scans(one, scans: list[list[str]]) -> dict:
    """Run ``one(image, mask, clock)`` on every scan; per-scan totals and ROI times, wall and CPU."""
    out: dict[str, list] = {"seconds": [], "cpu_seconds": [], "roi_seconds": [], "roi_cpu_seconds": [],
                            "patches": []}
    for image, mask in scans:
        clock = _Clock()
        t, c = time.perf_counter(), time.process_time()
        out["patches"].append(one(image, mask, clock))
        out["seconds"].append(time.perf_counter() - t)
        out["cpu_seconds"].append(time.process_time() - c)
        out["roi_seconds"].append(clock.roi_wall)
        out["roi_cpu_seconds"].append(clock.roi_cpu)
    return out


def child_paper(scans: list[list[str]], method: str, threads: int, stride_px: int) -> dict:
    import torch

    from cacscore.io import read_volume
    from cacscore.models import build_model
    from cacscore.patch_windows import PatchParams, extract_patches
    from cacscore.training.recipes import get_recipe

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    recipe = get_recipe("paper")  # AlexNet at 227 x 227, its HU window and resize, exactly as trained
    model = build_model(recipe.architecture, **recipe.architecture_kwargs).eval()
    prep = recipe.preprocessing
    # no reference labels at inference: every slice uses the negative ("no calcium") grid, set to the stride
    params = PatchParams(negative_stride_px=stride_px, allow_outside_roi=True)

    def one(image: str, mask: str, clock: _Clock, warm_up: bool = False) -> int:
        volume = read_volume(image)
        roi = clock.roi(volume, mask, method)
        hu = volume.hu
        if warm_up:  # a few slices through the same code: lazy initialisation without a full scan's cost
            keep = slice(*np.flatnonzero(roi.any(axis=(1, 2)))[[0, 0]] + [0, 3])
            hu, roi = hu[keep], roi[keep]
        windows = extract_patches(hu, roi, None, params)
        with torch.inference_mode():
            for start in range(0, len(windows.patches), 64):
                hu = torch.from_numpy(windows.patches[start : start + 64].astype(np.float32))[:, None]
                torch.softmax(model(prep(hu)), dim=1)
        return len(windows.patches)

    one(*scans[0], _Clock(), warm_up=True)
    windows_26 = []
    for image, mask in scans:  # the overlapping grid's window count, for the record (not timed)
        volume = read_volume(image)
        grid26 = PatchParams(negative_stride_px=26, allow_outside_roi=True)
        windows_26.append(len(extract_patches(volume.hu, _roi(volume, mask, method), None, grid26).patches))
    timed = _time_scans(one, scans)
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(rng.integers(-1024, 1500, (PATCH_BATCH, 1, 52, 52)).astype(np.float32))
    with torch.inference_mode():
        torch.softmax(model(prep(batch)), dim=1)
        t = time.perf_counter()
        torch.softmax(model(prep(batch)), dim=1)
        rate = PATCH_BATCH / (time.perf_counter() - t)
    return {**timed, "patches_per_s": rate, "peak_rss_mib": _peak_rss_mib(), "windows_26": windows_26}


def child_default(scans: list[list[str]], method: str, threads: int, model_dir: str, engine: str) -> dict:
    os.environ["CACSCORE_NUM_THREADS"] = str(threads)
    import torch

    from cacscore.detection.pipeline import PredictOptions, load_predictor
    from cacscore.io import read_volume

    torch.set_num_threads(threads)
    predictor = load_predictor(PredictOptions(model_dir=model_dir, engine=engine, device="cpu"))

    def one(image: str, mask: str, clock: _Clock) -> int:
        volume = read_volume(image)
        # the ROI predict_volume would compute itself, computed (and timed) here and handed to it
        prediction = predictor.predict_volume(volume, clock.roi(volume, mask, method))
        return len(prediction.candidates)

    one(*scans[0], _Clock())  # warm-up
    timed = _time_scans(one, scans)
    rng = np.random.default_rng(0)
    inputs = {"patches": rng.standard_normal((PATCH_BATCH, 7, 32, 32)).astype(np.float32),
              "features": rng.standard_normal((PATCH_BATCH, 12)).astype(np.float32)}
    predictor.engine.predict_proba(inputs)
    t = time.perf_counter()
    predictor.engine.predict_proba(inputs)
    rate = PATCH_BATCH / (time.perf_counter() - t)
    return {**timed, "patches_per_s": rate, "peak_rss_mib": _peak_rss_mib()}


def run_child(task: dict) -> dict:
    """Run one measurement in a fresh Python process and return its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(task)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def batch_throughput(images: Path, masks: Path, model_dir: Path, workers: int, out: Path) -> float:
    """Cases per minute of ``run_batch`` with ``workers`` local processes (wall time incl. model loading)."""
    from cacscore.batch import run_batch
    from cacscore.detection.pipeline import PredictOptions

    heart = None if roi_method() == "cacscore.roi.heart_roi" else masks
    options = PredictOptions(model_dir=model_dir, heart_mask=heart, device="cpu", write_seg=False)
    t = time.perf_counter()
    report = run_batch(images, out, options, workers=workers)
    seconds = time.perf_counter() - t
    if report.failed:
        raise RuntimeError(f"batch cases failed: {[(o.case_id, o.error) for o in report.failed]}")
    return 60.0 * len(report.outcomes) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=3, help="number of phantom scans (default 3)")
    parser.add_argument("--seed", type=int, default=9100, help="seed of the first phantom scan")
    parser.add_argument("--model", help="model folder of the default pipeline (default: the shipped model)")
    parser.add_argument("--batch-cases", type=int, default=6,
                        help="scans in the batch throughput cohort (the scans, repeated; default 6)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task = json.loads(args.child)
        kind = task.pop("kind")
        result = child_paper(**task) if kind == "paper" else child_default(**task)
        print(json.dumps(result))
        return

    threads = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cacscore-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        scans = make_scans(root, args.scans, args.seed)
        print(f"generated {len(scans)} phantom scans in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        model_dir, model_note = default_model(root, args.model)
        method = roi_method()
        pairs = [[str(i), str(m)] for i, m in scans]
        common = {"scans": pairs, "method": method, "threads": threads}
        results = {
            "paper": run_child({"kind": "paper", **common, "stride_px": 52}),
            "default torch": run_child({"kind": "default", **common, "model_dir": str(model_dir),
                                        "engine": "torch"}),
            "default onnx": run_child({"kind": "default", **common, "model_dir": str(model_dir),
                                       "engine": "onnx"}),
        }
        n_batch = _batch_cohort(root, scans, args.batch_cases)
        batch = {w: batch_throughput(root / "batch_images", root / "batch_masks", model_dir, w,
                                     root / f"batch{w}") for w in (1, 2)}
    def med(key: str, minus: str | None = None) -> dict[str, float]:
        return {k: statistics.median(np.subtract(v[key], v[minus]) if minus else v[key])
                for k, v in results.items()}

    median, cpu = med("seconds"), med("cpu_seconds")
    given, given_cpu = med("seconds", "roi_seconds"), med("cpu_seconds", "roi_cpu_seconds")
    roi_wall, roi_cpu = med("roi_seconds"), med("roi_cpu_seconds")
    cols = list(results)
    paper = "paper"
    w26 = statistics.median(results[paper]["windows_26"])
    lines = [
        f"CPU: {platform.processor() or platform.machine()}, {threads} cores; torch threads {threads}; "
        f"{args.scans} phantom scans 512 x 512 (seeds {args.seed}..{args.seed + args.scans - 1}); "
        f"heart ROI: {method}; default model: {model_note}; paper AlexNet: untrained weights; "
        f"1-min load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
        "",
        "| measurement | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
        "| **heart ROI computed (cacscore.roi)**: seconds per scan, wall | "
        + " | ".join(f"{median[c]:.2f}" for c in cols) + " |",
        "| ... seconds per scan, CPU | " + " | ".join(f"{cpu[c]:.2f}" for c in cols) + " |",
        "| ... of which heart ROI, wall / CPU | "
        + " | ".join(f"{roi_wall[c]:.2f} / {roi_cpu[c]:.2f}" for c in cols) + " |",
        "| ... speed-up per scan vs paper, wall / CPU | "
        + " | ".join(f"{median[paper] / median[c]:.1f}x / {cpu[paper] / cpu[c]:.1f}x" for c in cols) + " |",
        "| **heart ROI given (the paper's protocol: a manual ROI)**: seconds per scan, wall | "
        + " | ".join(f"{given[c]:.2f}" for c in cols) + " |",
        "| ... seconds per scan, CPU | " + " | ".join(f"{given_cpu[c]:.2f}" for c in cols) + " |",
        "| ... speed-up per scan vs paper, wall / CPU | "
        + " | ".join(f"{given[paper] / given[c]:.1f}x / {given_cpu[paper] / given_cpu[c]:.1f}x" for c in cols)
        + " |",
        "| peak memory, MiB RSS | " + " | ".join(f"{results[c]['peak_rss_mib']:.0f}" for c in cols) + " |",
        "| patches (windows / candidates) per scan, median | "
        + " | ".join(f"{statistics.median(results[c]['patches']):.0f}" for c in cols) + " |",
        "| network patches/s | " + " | ".join(f"{results[c]['patches_per_s']:.0f}" for c in cols) + " |",
        "",
        f"paper windows per scan on the overlapping grid (every 26 px; counted, not timed): median "
        f"{w26:.0f} ({w26 / statistics.median(results[paper]['patches']):.1f}x the side-by-side grid timed)",
        "",
        f"batch, default pipeline (torch), {n_batch} scans: 1 worker {batch[1]:.1f} scans/min, "
        f"2 workers {batch[2]:.1f} scans/min ({batch[2] / batch[1]:.2f}x)",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
