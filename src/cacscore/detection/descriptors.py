"""Candidate descriptors: what each calcium candidate physically is, in units that mean the same on any scan.

The classifier's main input. Every descriptor is measured on the whole scan (not only inside the heart ROI)
in HU, millimetres or shares of tissue, so that it means the same on a Siemens, a GE, a lung-screening scan
or a patient with a pacemaker; none is a voxel count or a position in the image. Per candidate
(:data:`DESCRIPTOR_NAMES`, in this order):

- intensity: its peak and mean HU, and its peak above the scan's soft tissue in units of the scan's noise
  (:class:`TissueReference`), so that a noise peak in a noisy scan and a small plaque in a quiet one differ;
  capped at ``noise_cap_sd`` noise SDs, beyond which no noise peak reaches: uncapped, a large calcification
  reads 102 SDs in a quiet scan (7 HU noise) and 43 in a calcium-scoring one (17 HU), a difference of the
  scanner, not of the calcium, which the classifier learned to use (docs/model.md);
- size and shape: its volume, largest in-plane area, extent along z (slices times increment), length
  along its principal axis (sqrt(12 lambda_1) of the voxel coordinates' covariance, the length of a rod
  with that spread) and in-plane elongation on its largest slice (sqrt(mu_1 / mu_2));
- bone: the bright structure it belongs to in the whole scan (the threshold-connected region it is part
  of, not cut at the ROI) - its volume and the share of it outside the heart ROI (a rib, vertebra or
  calcified costal cartilage continues beyond the heart region; a plaque is all inside) - its distance to
  the thorax's bone (:mod:`cacscore.detection.thorax`), the share of its voxels in bone, and its depth
  behind the front of the rib cage (:func:`rib_cage_depth`: calcified costal cartilage lies in the
  chest wall at the cage's front, a coronary artery behind the sternum and the heart's wall);
- surroundings: in-plane shells 0-2, 2-5 and 5-10 mm around it on each of its slices, the share of air
  (< ``air_hu``), fat (``air_hu`` .. ``fat_hu``) and bright voxels (at or above the calcium threshold: bone or
  other calcium); soft tissue and blood are the rest. Coronary plaque sits in epicardial fat next to a small
  lumen, valve calcium in blood, costal cartilage in muscle next to bone, a rib in bone;
- position: the offset of its centroid from the centroid of the heart ROI along the patient's left,
  posterior and superior axes (per 100 mm), which says which artery.

Shells are in-plane and in millimetres so that the slice thickness (0.5-5 mm) does not change them.
All arrays (z, y, x); pure NumPy/SciPy (no torch), so the ONNX path uses it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cacscore.detection.candidates import CONNECTIVITY_3D, CandidateSet
from cacscore.detection.thorax import Thorax
from cacscore.volume import Volume

#: The descriptor columns, in order.
DESCRIPTOR_NAMES: tuple[str, ...] = (
    "peak_hu_1000",
    "mean_hu_1000",
    "peak_over_noise_8sd",
    "log_volume_mm3",
    "log_max_area_mm2",
    "z_extent_10mm",
    "log_length_mm",
    "log_elongation",
    "log_structure_volume_mm3",
    "structure_outside_roi",
    "bone_distance_40mm",
    "in_bone",
    "rib_cage_depth_40mm",
    "air_0_2mm",
    "fat_0_2mm",
    "bright_0_2mm",
    "air_2_5mm",
    "fat_2_5mm",
    "bright_2_5mm",
    "air_5_10mm",
    "fat_5_10mm",
    "bright_5_10mm",
    "offset_left_100mm",
    "offset_posterior_100mm",
    "offset_superior_100mm",
)


@dataclass(frozen=True)
class DescriptorSettings:
    """How the descriptors are measured (HU are tissue boundaries, lengths in mm).

    Attributes:
        air_hu: air (lung) below this.
        fat_hu: fat between ``air_hu`` and this (fat is about -100 HU, soft tissue and blood 20-60).
        shells_mm: in-plane distance bands around the candidate (outer radius of each; the first starts
            at 0, i.e. just outside the candidate).
        smooth_mm: Gaussian smoothing (sigma, mm, in-plane) before the tissue classes, against noise.
        structure_margin_mm: how far beyond the heart ROI's box (in-plane, mm) a candidate's bright
            structure is followed (a rib or the sternum needs only to be seen leaving the ROI).
        bone_cap_mm: distances to bone beyond this count as this.
        noise_lag_mm: distance between the pixel pairs the noise is measured on (:func:`tissue_reference`).
        noise_cap_sd: the peak over noise is capped at this many noise SDs (and divided by it). Noise makes
            no such peak: the Gaussian tail beyond 8 SD is 6e-16 per voxel, against ~1e8 voxels a scan.
    """

    air_hu: float = -400.0
    fat_hu: float = -30.0
    shells_mm: tuple[float, ...] = (2.0, 5.0, 10.0)
    smooth_mm: float = 0.5
    structure_margin_mm: float = 30.0
    bone_cap_mm: float = 40.0
    noise_lag_mm: float = 2.0
    noise_cap_sd: float = 8.0


@dataclass(frozen=True)
class TissueReference:
    """The scan's own soft-tissue level and noise, measured in the heart ROI.

    Attributes:
        soft_hu: median HU of soft tissue and blood (``fat_hu`` .. 130 HU) in the ROI.
        fat_hu: median HU of fat (-250 .. ``fat_hu``) in the ROI.
        noise_sd_hu: robust noise SD: 1.4826 x the median absolute deviation of the difference between
            soft-tissue pixels ``noise_lag_mm`` apart along a row, divided by sqrt 2 (tissue edges barely
            move a median).
    """

    soft_hu: float
    fat_hu: float
    noise_sd_hu: float

    def to_dict(self) -> dict[str, float]:
        return {"soft_hu": round(self.soft_hu, 1), "fat_hu": round(self.fat_hu, 1),
                "noise_sd_hu": round(self.noise_sd_hu, 1)}


def tissue_reference(volume: Volume, roi: np.ndarray, settings: DescriptorSettings = DescriptorSettings()
                     ) -> TissueReference:
    """:class:`TissueReference` of ``volume`` in ``roi`` (the whole volume when the ROI is empty).

    The noise is measured on pixel pairs ``noise_lag_mm`` apart along rows: CT noise is correlated over
    about a millimetre (the kernel), so neighbouring pixels would understate it by a kernel-dependent
    factor; at 2 mm the pair's difference has about twice the noise variance on every scanner.
    """
    hu = volume.hu
    mask = roi if roi.any() else np.ones(hu.shape, bool)
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    zs = zs[:: max(1, zs.size // 12)]  # about a dozen slices are plenty for medians
    sub, sub_mask = hu[zs], mask[zs]
    values = sub[sub_mask]
    soft_range = (settings.fat_hu, 130.0)
    soft = values[(values >= soft_range[0]) & (values < soft_range[1])]
    fat = values[(values >= -250.0) & (values < settings.fat_hu)]
    lag = max(1, round(settings.noise_lag_mm / volume.spacing_zyx_mm[2]))
    a, b = sub[:, :, lag:], sub[:, :, :-lag]
    pair = sub_mask[:, :, lag:] & sub_mask[:, :, :-lag]
    for v in (a, b):
        pair &= (v >= soft_range[0]) & (v < soft_range[1])
    diff = (a - b)[pair]
    noise = 1.4826 * float(np.median(np.abs(diff - np.median(diff)))) / np.sqrt(2.0) if diff.size else 0.0
    return TissueReference(
        soft_hu=float(np.median(soft)) if soft.size else 40.0,
        fat_hu=float(np.median(fat)) if fat.size else -100.0,
        noise_sd_hu=max(noise, 1.0),
    )


def describe_candidates(
    volume: Volume,
    candidates: CandidateSet,
    roi: np.ndarray,
    thorax: Thorax,
    settings: DescriptorSettings = DescriptorSettings(),
    reference: TissueReference | None = None,
) -> np.ndarray:
    """The (N, len(DESCRIPTOR_NAMES)) float32 descriptors of every candidate (see the module docstring).

    Args:
        volume: the CT volume (HU).
        candidates: its candidates (found inside ``roi``).
        roi: the heart ROI used for the candidates (bool, the volume's grid).
        thorax: the scan's body, lungs and bone (:func:`cacscore.detection.thorax.find_thorax`).
        settings: how to measure.
        reference: the scan's :class:`TissueReference` (measured here when not given).
    """
    n = len(candidates)
    out = np.zeros((n, len(DESCRIPTOR_NAMES)), np.float32)
    if n == 0:
        return out
    reference = tissue_reference(volume, roi, settings) if reference is None else reference
    spacing = np.asarray(volume.spacing_zyx_mm, float)
    structure_volume, structure_outside = _bright_structures(volume, candidates, roi, settings)
    bone_mm = ndi.distance_transform_edt(~thorax.bone, sampling=thorax.grid.spacing_zyx_mm) \
        if thorax.bone.any() else np.full(thorax.grid.shape, np.inf)
    cage_mm = rib_cage_depth(thorax, settings.bone_cap_mm, float(np.sign(volume.direction[1, 1]) or 1))
    roi_centre = _centroid_lps(volume, roi)
    for i, cand in enumerate(candidates.candidates):
        box = tuple(slice(a, b) for a, b in zip(cand.bbox_zyx[:3], cand.bbox_zyx[3:], strict=True))
        own = candidates.label_map[box] == cand.index
        voxels = np.argwhere(own) + np.array(cand.bbox_zyx[:3])
        work = thorax.grid.index(voxels)
        bone_distance = float(bone_mm[tuple(work.T)].min())
        in_bone = float(thorax.bone[tuple(work.T)].mean())
        cage_depth = float(np.median(cage_mm[tuple(work.T)]))
        length, elongation = _shape(voxels, own, spacing)
        shells = _shells(volume, candidates, cand, settings)
        offset = (volume.index_to_physical(np.asarray(cand.centroid_zyx)) - roi_centre) / 100.0
        peak_over_noise = min((cand.peak_hu - reference.soft_hu) / reference.noise_sd_hu,
                              settings.noise_cap_sd)
        out[i] = (
            cand.peak_hu / 1000.0,
            cand.mean_hu / 1000.0,
            peak_over_noise / settings.noise_cap_sd,
            np.log1p(cand.volume_mm3),
            np.log1p(cand.max_area_mm2),
            cand.n_slices * spacing[0] / 10.0,
            np.log1p(length),
            np.log(elongation),
            np.log1p(structure_volume[i]),
            structure_outside[i],
            min(bone_distance, settings.bone_cap_mm) / settings.bone_cap_mm,
            in_bone,
            cage_depth / settings.bone_cap_mm,
            *shells,
            *offset,
        )
    return out


def rib_cage_depth(thorax: Thorax, cap_mm: float, posterior_sign: float = 1.0) -> np.ndarray:
    """Depth (mm) of each working-grid voxel behind the front of the rib cage, clipped to +-``cap_mm``.

    Per slice, the front of the rib cage is the anterior edge of the convex hull of the slice's anterior
    bone: the bone in the front half of the body's extent (sternum, the ribs' fronts and their cartilage
    where calcified; not the spine, whose hull edges with a cut-off rib would run obliquely through the
    heart). A voxel's depth is how far it lies behind that edge in its own column (negative in front of
    it). The sternum, a rib's front and calcified costal cartilage lie on the edge (about 0-15 mm); the
    coronary arteries lie inside the cage, behind the sternum, the retrosternal fat and the right
    ventricle's wall (15 mm and more). Measured from the front only, so that a cardiac field of view that
    cuts the ribs off at the sides does not matter. Columns outside the hull, and slices without anterior
    bone, read ``cap_mm``. ``posterior_sign`` is +1 when the row index grows towards the patient's back
    (LPS storage), -1 when it grows towards the front.
    """
    from cacscore.masks import hull2d

    _, wy, _ = thorax.grid.spacing_zyx_mm
    ny = thorax.grid.shape[1]
    out = np.full(thorax.grid.shape, cap_mm, np.float32)
    rows = np.arange(ny, dtype=np.float32)[:, None]
    for z in np.flatnonzero(thorax.bone.any(axis=(1, 2))):
        body_rows = np.flatnonzero(thorax.body[z].any(axis=1))
        if body_rows.size == 0:
            continue
        middle = (body_rows[0] + body_rows[-1]) / 2.0
        front_half = rows[:, 0] < middle if posterior_sign >= 0 else rows[:, 0] > middle
        anterior = thorax.bone[z] & front_half[:, None]
        if not anterior.any():
            continue
        cage = hull2d(anterior)
        cols = cage.any(axis=0)
        if posterior_sign >= 0:
            front = np.argmax(cage, axis=0).astype(np.float32)
            depth = (rows - front[None, :]) * wy
        else:
            front = (ny - 1 - np.argmax(cage[::-1], axis=0)).astype(np.float32)
            depth = (front[None, :] - rows) * wy
        out[z] = np.where(cols[None, :], np.clip(depth, -cap_mm, cap_mm), cap_mm)
    return out


def _centroid_lps(volume: Volume, roi: np.ndarray) -> np.ndarray:
    """Patient coordinates (LPS mm) of the ROI's centroid (of the volume's centre when the ROI is empty)."""
    if not roi.any():
        return volume.index_to_physical((np.asarray(volume.shape, float) - 1) / 2)
    profiles = [roi.sum(axis=tuple(a for a in range(3) if a != ax), dtype=np.int64) for ax in range(3)]
    centre = np.array([(np.arange(p.size) * p).sum() / p.sum() for p in profiles])
    return volume.index_to_physical(centre)


def _bright_structures(
    volume: Volume, candidates: CandidateSet, roi: np.ndarray, settings: DescriptorSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: the volume (mm3) of the threshold-connected bright structure it belongs to, followed
    up to ``structure_margin_mm`` beyond the ROI's box, and the share of that structure outside the ROI."""
    spacing = volume.spacing_zyx_mm
    zs, ys, xs = (np.flatnonzero(roi.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1)))
    if zs.size == 0:  # no ROI: the candidates' own box
        b = np.array([c.bbox_zyx for c in candidates.candidates])
        zs, ys, xs = ([b[:, k].min(), b[:, k + 3].max() - 1] for k in range(3))
    pad_y = int(np.ceil(settings.structure_margin_mm / spacing[1]))
    pad_x = int(np.ceil(settings.structure_margin_mm / spacing[2]))
    box = (
        slice(max(int(zs[0]) - 1, 0), min(int(zs[-1]) + 2, volume.shape[0])),
        slice(max(int(ys[0]) - pad_y, 0), min(int(ys[-1]) + pad_y + 1, volume.shape[1])),
        slice(max(int(xs[0]) - pad_x, 0), min(int(xs[-1]) + pad_x + 1, volume.shape[2])),
    )
    bright = volume.hu[box] >= candidates.threshold_hu
    structure = ndi.generate_binary_structure(3, CONNECTIVITY_3D[candidates.connectivity])
    lab, n = ndi.label(bright, structure=structure)
    total = np.bincount(lab.ravel(), minlength=n + 1)
    inside = np.bincount(lab[roi[box]], minlength=n + 1)
    offset = np.array([s.start for s in box])
    ids = np.array([lab[tuple(np.asarray(c.peak_zyx) - offset)] for c in candidates.candidates])
    volume_mm3 = total[ids] * volume.voxel_volume_mm3
    outside = 1.0 - inside[ids] / np.maximum(total[ids], 1)
    return volume_mm3.astype(float), outside.astype(float)


def _shape(voxels: np.ndarray, own: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    """Length along the principal axis (mm) and in-plane elongation on the largest slice of a candidate.

    Each voxel is a uniform box: its own variance (spacing^2 / 12 per axis) is added, so that a single
    voxel has the length of its largest side and an elongation of 1 for square pixels.
    """
    coords = voxels * spacing
    cov = np.cov(coords.T, bias=True) if len(coords) > 1 else np.zeros((3, 3))
    cov = cov + np.diag(spacing**2 / 12.0)
    length = float(np.sqrt(12.0 * np.linalg.eigvalsh(cov)[-1]))
    z = int(np.argmax(own.sum(axis=(1, 2))))
    rows, cols = np.nonzero(own[z])
    pts = np.stack([rows * spacing[1], cols * spacing[2]], axis=1)
    cov2 = np.cov(pts.T, bias=True) if len(pts) > 1 else np.zeros((2, 2))
    mu = np.linalg.eigvalsh(cov2 + np.diag(spacing[1:] ** 2 / 12.0))
    return length, float(np.sqrt(mu[-1] / mu[0]))


def _shells(volume: Volume, candidates: CandidateSet, cand, settings: DescriptorSettings) -> list[float]:
    """Shares of air, fat and bright voxels in each in-plane shell around the candidate, over its slices."""
    spacing = volume.spacing_zyx_mm
    reach = settings.shells_mm[-1]
    pad_y, pad_x = (int(np.ceil(reach / s)) + 1 for s in spacing[1:])
    z0, y0, x0, z1, y1, x1 = cand.bbox_zyx
    ys = slice(max(y0 - pad_y, 0), min(y1 + pad_y, volume.shape[1]))
    xs = slice(max(x0 - pad_x, 0), min(x1 + pad_x, volume.shape[2]))
    sigma = (settings.smooth_mm / spacing[1], settings.smooth_mm / spacing[2])
    counts = np.zeros((len(settings.shells_mm), 4))  # air, fat, bright, all
    for z in range(z0, z1):
        own = candidates.label_map[z, ys, xs] == cand.index
        if not own.any():
            continue
        distance = ndi.distance_transform_edt(~own, sampling=spacing[1:])
        raw = volume.hu[z, ys, xs]
        hu = ndi.gaussian_filter(raw, sigma) if settings.smooth_mm > 0 else raw
        classes = (hu < settings.air_hu, (hu >= settings.air_hu) & (hu < settings.fat_hu),
                   raw >= candidates.threshold_hu)
        inner = 0.0
        for k, outer in enumerate(settings.shells_mm):
            shell = (distance > inner) & (distance <= outer)
            counts[k, :3] += [np.count_nonzero(c & shell) for c in classes]
            counts[k, 3] += np.count_nonzero(shell)
            inner = outer
    shares = counts[:, :3] / np.maximum(counts[:, 3:], 1)
    return [float(v) for v in shares.ravel()]
