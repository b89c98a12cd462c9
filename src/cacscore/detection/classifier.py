"""Classifier inputs: what the candidate network sees of each candidate, and how its output becomes labels.

Two named float32 arrays per candidate (recorded in the model folder's config.json; why these and no
others: docs/model.md):

- ``features`` (N, F): the candidate's descriptors (:mod:`cacscore.detection.descriptors`): intensity,
  size and shape, bone, surrounding tissue and position in the heart's frame, all physical;
- ``patches`` (N, 2, size, size): the candidate's local appearance for a small CNN: the slice where the
  candidate is largest, resampled to ``local_mm_per_px`` (a patch of ``size_px * local_mm_per_px`` mm,
  19 mm by default) in patient orientation (LPS), its HU normalised by the scan's own tissue contrast
  ((HU - soft) / (soft - fat), :class:`~cacscore.detection.descriptors.TissueReference`) so that a
  scanner's calibration offset or a lower kVp does not change it; and the candidate's own voxels (1/0).

No wide context patch: a 128 mm view of the thorax is where a network learns what only the phantom looks
like (docs/model.md, ablations). For training, :class:`InputAugmentation` rotates the patch by any angle,
rescales, shifts, blurs and adds noise to it, and jitters the position descriptors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
from scipy import ndimage

from cacscore.detection.candidates import CandidateSet
from cacscore.detection.descriptors import DESCRIPTOR_NAMES, DescriptorSettings, TissueReference
from cacscore.errors import CacscoreError
from cacscore.volume import Volume

#: Version tag of the inputs below; a model folder with another (an older cacscore's) is refused.
INPUT_KIND = "descriptors+patch/v3"


@dataclass(frozen=True)
class CandidateInputSpec:
    """How the classifier's inputs are built (recorded in the model folder as ``input_spec``).

    Attributes:
        kind: :data:`INPUT_KIND`.
        size_px: patch side (pixels).
        local_mm_per_px: patch pixel size (mm).
        contrast_clip: normalised HU are clipped to this range (fat -1, soft tissue 0; 6 is about 900 HU
            above soft tissue) and divided by its upper end.
        descriptor_names: the descriptor columns of ``features``, in order.
    """

    kind: str = INPUT_KIND
    size_px: int = 32
    local_mm_per_px: float = 0.6
    contrast_clip: tuple[float, float] = (-2.0, 6.0)
    descriptor_names: tuple[str, ...] = DESCRIPTOR_NAMES

    @property
    def n_channels(self) -> int:
        return 2

    @property
    def n_features(self) -> int:
        return len(self.descriptor_names)

    def input_shapes(self) -> dict[str, list[int | str]]:
        """Named input shapes with a symbolic batch dimension (for config.json and ONNX export)."""
        return {
            "patches": ["N", self.n_channels, self.size_px, self.size_px],
            "features": ["N", self.n_features],
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CandidateInputSpec:
        """The spec of a model folder's config; refuses inputs of another kind (an older cacscore)."""
        if data.get("kind") != INPUT_KIND:
            raise CacscoreError(
                f"the model takes inputs of kind {data.get('kind', 'context-patches/v2')!r}, this cacscore "
                f"builds {INPUT_KIND!r}; retrain it with `cacscore train --task candidates` or use the "
                "shipped model")
        known = cls.__dataclass_fields__
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        spec = cls(**fields)
        if spec.descriptor_names != DESCRIPTOR_NAMES:
            raise CacscoreError("the model was trained on other candidate descriptors than this cacscore "
                                "computes; retrain it with `cacscore train --task candidates`")
        return spec


@dataclass(frozen=True)
class InputAugmentation:
    """Random changes of the inputs while sampling training data (drawn from the caller's Generator).

    Attributes:
        scale: largest relative change of the patch's mm per pixel.
        jitter_mm: largest shift (mm) of the patch centre.
        blur_mm: largest extra Gaussian blur (sigma, mm) of the patch (a softer kernel).
        noise: largest SD of noise added to the normalised patch (0.15: ~20 HU at a 140 HU contrast).
        contrast: largest relative change of the normalised contrast (calibration, kVp).
        position_mm: largest shift (mm) of the position descriptors (the heart ROI's centroid moves).
    """

    scale: float = 0.15
    jitter_mm: float = 1.0
    blur_mm: float = 0.5
    noise: float = 0.15
    contrast: float = 0.1
    position_mm: float = 8.0


#: The position descriptors (offset from the heart ROI's centroid), jittered by the augmentation.
_POSITION = slice(DESCRIPTOR_NAMES.index("offset_left_100mm"),
                  DESCRIPTOR_NAMES.index("offset_superior_100mm") + 1)


def sample_candidate_inputs(
    volume: Volume,
    candidates: CandidateSet,
    descriptors: np.ndarray,
    reference: TissueReference,
    spec: CandidateInputSpec = CandidateInputSpec(),
    *,
    rng: np.random.Generator | None = None,
    augmentation: InputAugmentation | None = None,
) -> dict[str, np.ndarray]:
    """The classifier's named float32 inputs for every candidate: ``{"patches": ..., "features": ...}``.

    With ``rng`` and ``augmentation`` the sampling is randomised for training; without, deterministic.
    """
    n = len(candidates)
    size = spec.size_px
    patches = np.zeros((n, spec.n_channels, size, size), np.float32)
    features = np.array(descriptors, dtype=np.float32, copy=True).reshape(n, spec.n_features)
    if n == 0:
        return {"patches": patches, "features": features}
    aug = augmentation if (rng is not None and augmentation is not None) else None
    spacing = np.asarray(volume.spacing_zyx_mm)
    signs = _axis_signs(volume)
    grid = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    gy, gx = np.meshgrid(grid, grid, indexing="ij")  # rows -> posterior, columns -> left (LPS)
    contrast = max(reference.soft_hu - reference.fat_hu, 20.0)
    lo, hi = spec.contrast_clip
    for i, cand in enumerate(candidates.candidates):
        z = _largest_slice(candidates, cand)
        cy, cx = _centre_on_slice(candidates, cand, z)
        angle, scale, shift, blur, noise, gain = 0.0, 1.0, np.zeros(2), 0.0, 0.0, 1.0
        if aug is not None:
            angle = rng.uniform(0.0, 2.0 * np.pi)
            scale = 1.0 + rng.uniform(-aug.scale, aug.scale)
            shift = rng.uniform(-aug.jitter_mm, aug.jitter_mm, size=2)
            blur = rng.uniform(0.0, aug.blur_mm)
            noise = rng.uniform(0.0, aug.noise)
            gain = 1.0 + rng.uniform(-aug.contrast, aug.contrast)
        cos, sin = np.cos(angle), np.sin(angle)
        step = spec.local_mm_per_px * scale
        yy = cy + signs[1] * ((cos * gy - sin * gx) * step + shift[0]) / spacing[1]
        xx = cx + signs[2] * ((sin * gy + cos * gx) * step + shift[1]) / spacing[2]
        values = ndimage.map_coordinates(volume.hu[z], [yy, xx], order=1, mode="nearest")
        values = (values - reference.soft_hu) / contrast * gain
        if blur > 0:
            values = ndimage.gaussian_filter(values, blur / step)
        if noise > 0:
            values = values + rng.normal(0.0, noise, values.shape)
        patches[i, 0] = np.clip(values, lo, hi) / hi
        ids = ndimage.map_coordinates(candidates.label_map[z], [yy, xx], order=0, mode="constant", cval=0)
        patches[i, 1] = ids == cand.index
        if aug is not None:
            features[i, _POSITION] += rng.uniform(-aug.position_mm, aug.position_mm, size=3) / 100.0
    return {"patches": patches, "features": features}


def _largest_slice(candidates: CandidateSet, cand) -> int:
    """The slice on which the candidate has most voxels (the first of equals)."""
    z0, y0, x0, z1, y1, x1 = cand.bbox_zyx
    own = candidates.label_map[z0:z1, y0:y1, x0:x1] == cand.index
    return z0 + int(np.argmax(own.sum(axis=(1, 2))))


def _centre_on_slice(candidates: CandidateSet, cand, z: int) -> tuple[float, float]:
    """The centroid (row, column) of the candidate's voxels on slice ``z``."""
    _, y0, x0, _, y1, x1 = cand.bbox_zyx
    rows, cols = np.nonzero(candidates.label_map[z, y0:y1, x0:x1] == cand.index)
    return float(rows.mean() + y0), float(cols.mean() + x0)


def _axis_signs(volume: Volume) -> np.ndarray:
    """+1/-1 per index axis (z, y, x) so that stepping index * sign moves towards S, P, L respectively."""
    d = volume.direction
    # columns of direction are the x, y, z index axes in LPS; take the dominant patient axis component.
    sx = np.sign(d[0, 0]) if abs(d[0, 0]) > 0.5 else 1.0
    sy = np.sign(d[1, 1]) if abs(d[1, 1]) > 0.5 else 1.0
    sz = np.sign(d[2, 2]) if abs(d[2, 2]) > 0.5 else 1.0
    return np.array([sz, sy, sx], dtype=float)


@dataclass(frozen=True)
class DecisionRule:
    """How class probabilities become one label per candidate (recorded in the model folder).

    A candidate is coronary when its probability of being coronary (1 - p(not coronary)) is at least
    ``min_coronary_probability``; its artery is then the most probable of LAD, LCX and RCA. Three facts
    of anatomy then veto the call, whatever the network says (:meth:`vetoes`):

    - ``require_outside_bone``: a candidate with half or more of its voxels in the thorax's bone
      (descriptor ``in_bone``: thick bone with its marrow, :mod:`cacscore.detection.thorax`) is a rib, the
      sternum or a vertebra, not a plaque in an artery. The phantom cannot teach it: its heart ROI never
      reaches bone, so none of 174 coronary and only 2 of 4,166 other candidates of 80 phantom cases
      (cohort b and the v6 training cohort) lie in bone, and a network asked about one answers at random
      (on the real lung1 the ROI takes in the lower sternum, in_bone 0.97, called LAD with p 0.92).

    - ``require_fat``: a candidate with no fat voxel at all within 10 mm in-plane on any of its slices
      (descriptors ``fat_0_2mm``, ``fat_2_5mm``, ``fat_5_10mm`` all 0) is not coronary: the coronary
      arteries run in the epicardial fat of the atrioventricular and interventricular grooves, and the
      segments that dive into the myocardium (myocardial bridges) are largely spared by atherosclerosis
      (their intramural part). What lies in soft tissue alone is valve or myocardial calcium, or an insert
      of a calibration phantom (the real QRM scan's large 400 mgHA/ml insert was called LAD). 9 of the 478
      coronary candidates of the v3 training cohort (1.9 %, phantom lesions in a thin fat sleeve) have no
      such fat voxel.
    - ``require_inside_cage``: a candidate less than ``min_cage_depth_mm`` behind the rib cage's front
      (descriptor ``rib_cage_depth_40mm``: depth behind the hull of the sternum and the ribs' fronts,
      :func:`~cacscore.detection.descriptors.rib_cage_depth`) lies in the chest wall, not in the heart:
      calcified costal cartilage. The hull's edge runs along the front of the sternum and of the ribs;
      every coronary artery lies behind the sternum (itself about 10 mm thick or more at its body) and
      behind the right ventricle's wall, and the shallowest of 492 coronary candidates of the v6
      training cohort (240 phantom patients, every protocol) lies 14.5 mm behind it. With no margin
      (depth < 0 vetoed), calcified costal cartilage 3.8 mm behind the front beside lung2's sternum (579
      Agatston) was called LAD by 3 of 5 networks; with 5 mm in front allowed, another 3.8 mm in front
      was. Where the sternum is not found as bone (a thin phantom sternum) the front is a chord between
      two ribs that the heart's front can cross: one phantom LAD of cohort b, 2.4 mm in front of it, is
      lost either way.
    """

    min_coronary_probability: float = 0.5
    class_codes: tuple[int, ...] = field(default=(0, 1, 2, 3))
    require_fat: bool = True
    require_inside_cage: bool = True
    require_outside_bone: bool = True
    min_cage_depth_mm: float = 8.0

    @classmethod
    def from_config(cls, decision: dict, class_codes: tuple[int, ...]) -> DecisionRule:
        """The rule of a model folder's config.json ``decision`` block; a setting it lacks (a folder older
        than the setting) takes this class's default."""
        default = cls()
        given = {f.name: type(getattr(default, f.name))(decision[f.name]) for f in fields(cls)
                 if f.name != "class_codes" and f.name in decision}
        return cls(class_codes=tuple(int(c) for c in class_codes), **given)

    def settings(self) -> dict[str, float | bool]:
        """The rule's settings by name, as a model folder's ``decision`` block records them (the inverse of
        :meth:`from_config`; the class codes are recorded beside it)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "class_codes"}

    def classes(self, probabilities: np.ndarray, descriptors: np.ndarray | None = None) -> np.ndarray:
        """Artery code per candidate (0 = not coronary) from (N, 4) probabilities and, for the anatomical
        vetoes, the candidates' (N, len(DESCRIPTOR_NAMES)) descriptors (none applied without them)."""
        return self.decide(probabilities, descriptors)[0]

    def decide(self, probabilities: np.ndarray, descriptors: np.ndarray | None = None,
               artery: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(artery codes, overruled): :meth:`classes`, and per candidate the veto's reason where the
        network called it coronary and anatomy did not ("" elsewhere). ``artery`` (N,) class indices 1-3
        name the artery instead of the most probable one (:mod:`cacscore.detection.artery`)."""
        probabilities = np.asarray(probabilities)
        n = len(probabilities)
        if n == 0:
            return np.zeros(0, np.uint8), np.full(0, "", dtype=object)
        codes = np.asarray(self.class_codes, np.uint8)
        artery = codes[1 + np.argmax(probabilities[:, 1:], axis=1) if artery is None else np.asarray(artery)]
        called = 1.0 - probabilities[:, 0] >= self.min_coronary_probability
        reasons = self.vetoes(descriptors) if descriptors is not None else np.full(n, "", dtype=object)
        coronary = called & (reasons == "")
        return np.where(coronary, artery, codes[0]).astype(np.uint8), np.where(called, reasons, "")

    def vetoes(self, descriptors: np.ndarray) -> np.ndarray:
        """Per candidate, the anatomical reason it cannot be coronary ("" where there is none)."""
        d = np.asarray(descriptors)
        reasons = np.full(len(d), "", dtype=object)
        if self.require_inside_cage:
            # the descriptor is the depth divided by its cap
            depth_mm = d[:, DESCRIPTOR_NAMES.index("rib_cage_depth_40mm")] * DescriptorSettings().bone_cap_mm
            reasons[depth_mm < self.min_cage_depth_mm] = (
                f"in the chest wall (less than {self.min_cage_depth_mm:g} mm behind the rib cage's front)")
        if self.require_outside_bone:
            reasons[d[:, DESCRIPTOR_NAMES.index("in_bone")] >= 0.5] = "in bone"
        if self.require_fat:
            fat = [DESCRIPTOR_NAMES.index(n) for n in ("fat_0_2mm", "fat_2_5mm", "fat_5_10mm")]
            reasons[d[:, fat].sum(axis=1) <= 0] = "no fat within 10 mm"
        return reasons
