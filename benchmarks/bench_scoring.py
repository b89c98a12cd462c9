"""Time ``score_volume`` on a 512 x 512 x 60 scan with its calcium mask (synthetic, built here).

Run: ``.venv/bin/python benchmarks/bench_scoring.py``. Prints one table: the median of several runs for each
convention, plus the lesion-level evaluation of the same mask against a perturbed copy.
"""

from __future__ import annotations

import time

import numpy as np

from cacscore.evaluation import lesion_counts
from cacscore.labels import Artery
from cacscore.scoring import ScoringSettings, score_volume
from cacscore.volume import ScanInfo, Volume


def build(seed: int = 0, n_lesions: int = 150) -> tuple[Volume, np.ndarray]:
    """Noisy soft tissue (40 +- 20 HU) with ``n_lesions`` calcified blobs (130-900 HU) labelled by artery,
    plus bright unlabelled bone so that the threshold alone does not find the calcium."""
    rng = np.random.default_rng(seed)
    shape = (60, 512, 512)
    hu = rng.normal(40, 20, size=shape).astype(np.float32)
    hu[:, 400:470, 200:320] = 700  # "spine": bright, unlabelled
    labels = np.zeros(shape, dtype=np.uint8)
    zz, yy, xx = np.ogrid[:7, :15, :15]
    for _ in range(n_lesions):
        z, y, x = rng.integers([3, 150, 150], [55, 360, 360])
        r = rng.uniform(1.5, 6.0)
        blob = ((zz - 3) * 3.0) ** 2 + ((yy - 7) * 0.5) ** 2 + ((xx - 7) * 0.5) ** 2 <= r**2
        region = (slice(z - 3, z + 4), slice(y - 7, y + 8), slice(x - 7, x + 8))
        hu[region][blob] = rng.uniform(130, 900)
        labels[region][blob] = rng.choice([Artery.LAD, Artery.LCX, Artery.RCA, Artery.LM])
    volume = Volume(hu, (3.0, 0.5, 0.5), info=ScanInfo(modality="CT", kvp=120.0, slice_thickness_mm=3.0))
    return volume, labels


def median_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    volume, labels = build()
    perturbed = labels.copy()
    perturbed[:, :, :250] = np.where(perturbed[:, :, :250] > 0, int(Artery.RCA), 0)
    rows = []
    for convention in ("clinical", "orcascore"):
        settings = ScoringSettings(convention=convention, calibration_factor=0.75)
        result = score_volume(volume, labels, settings)
        seconds = median_seconds(lambda s=settings: score_volume(volume, labels, s))
        rows.append((f"score_volume ({convention})", seconds, f"{len(result.lesions)} lesions, "
                     f"Agatston {result.agatston['total']:.0f}"))  # fmt: skip
    seconds = median_seconds(
        lambda: lesion_counts(perturbed, labels, volume.hu, 130, volume.voxel_volume_mm3), repeats=3
    )
    rows.append(("lesion_counts (evaluation)", seconds, "pred vs ref, per artery and overall"))
    print(
        f"scan {volume.shape} (z, y, x), {int((labels > 0).sum())} labelled voxels; median of repeated runs"
    )
    print(f"{'step':<30} {'seconds':>8}  notes")
    for name, s, note in rows:
        print(f"{name:<30} {s:>8.3f}  {note}")


if __name__ == "__main__":
    main()
