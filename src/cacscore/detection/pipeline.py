"""The detection steps joined: a CT volume in memory in, coronary calcium per artery out.

    thorax (:mod:`~cacscore.detection.thorax`) -> heart ROI (a given mask or
    :func:`~cacscore.detection.heart_roi.heart_roi`) -> candidates
    (:func:`~cacscore.detection.candidates.find_candidates`: scoring threshold, 3-D connected, minimum area)
    -> descriptors (:mod:`~cacscore.detection.descriptors`) -> classifier inputs
    (:mod:`~cacscore.detection.classifier`) -> engine (torch or onnx) -> one class per candidate (the
    artery by position, :mod:`~cacscore.detection.artery`, where the model holds it) -> label volume
    (orCaScore codes) -> :func:`cacscore.scoring.score_volume`; the out-of-domain check
    (:mod:`~cacscore.detection.domain`) adds a warning where the scan is unlike the training scans, and
    the certainty check (:mod:`~cacscore.detection.certainty`) where the risk category rests on calls the
    model is unsure of.

:func:`prepare_scan` runs the steps up to the descriptors; training (``cacscore train --task candidates``)
uses it too, so the model sees in training exactly what it sees at prediction. :func:`load_predictor` loads
the model once; :meth:`Predictor.predict_volume` runs one scan in memory. Writing a case folder on disk is
:func:`cacscore.case_folder.predict_to_folder`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cacscore.detection.artery import ArteryByPosition
from cacscore.detection.candidates import CandidateSet, find_candidates
from cacscore.detection.certainty import category_certainty
from cacscore.detection.classifier import CandidateInputSpec, DecisionRule, sample_candidate_inputs
from cacscore.detection.descriptors import (
    DESCRIPTOR_NAMES,
    TissueReference,
    describe_candidates,
    tissue_reference,
)
from cacscore.detection.domain import TrainingDomain, check_domain, noise_warning, scan_measures
from cacscore.detection.thorax import Thorax, find_thorax
from cacscore.errors import CacscoreError
from cacscore.labels import Artery
from cacscore.log import get_logger
from cacscore.volume import Volume

log = get_logger(__name__)

#: The model shipped inside the package (src/cacscore/models/shipped/<name>), used when no --model is given.
SHIPPED_MODEL_NAME = "candidates-phantom-v11"

MASK_FORMATS: dict[str, tuple[str, type]] = {
    "nifti": ("calcium.nii.gz", np.uint8),
    # the orCaScore submission format: MetaImage of short integers on the CTI grid
    "mhd": ("calcium.mhd", np.int16),
}
ENGINES: tuple[str, ...] = ("auto", "torch", "onnx")


def shipped_model_dir() -> Path:
    """Folder of the model shipped with cacscore."""
    path = Path(__file__).resolve().parents[1] / "models" / "shipped" / SHIPPED_MODEL_NAME
    if not (path / "config.json").is_file():
        raise CacscoreError(f"the shipped model is missing from this installation ({path}); "
                            "reinstall cacscore or give a model folder with --model")
    return path


@dataclass(frozen=True)
class PredictOptions:
    """How ``predict`` runs.

    Attributes:
        model_dir: model folder; ``None`` means the shipped model.
        heart_mask: a heart mask file on the scan's grid (any nonzero voxel is heart), or a folder of
            ``<case id>.<ext>`` masks for several inputs; ``None`` computes the automatic heart ROI.
        mask_format: "nifti" (calcium.nii.gz, uint8) or "mhd" (calcium.mhd, short integers: orCaScore).
        engine: "auto" (PyTorch when installed, else ONNX Runtime), "torch" or "onnx".
        device: "auto", "cpu" or "cuda" (torch engine).
        overwrite: replace a case folder that already holds results (otherwise the case is skipped).
        include_phi: allow patient-identifying DICOM fields in outputs (cacscore writes none of them today;
            the option is recorded so that future fields stay behind it).
        write_seg: write the labels as a DICOM SEG; ``None`` = when the input is DICOM.
        scoring_preset: name in ``cacscore.scoring.SCORING_PRESETS``.
        kvp: tube voltage (kV) the scans were acquired at, for the calcium threshold (kVp table of
            ``cacscore.constants``); ``None`` reads it from the scan (DICOM), and a scan without one (NIfTI,
            MHD) is scored at 130 HU (120 kVp) with a warning.
    """

    model_dir: str | os.PathLike[str] | None = None
    heart_mask: str | os.PathLike[str] | None = None
    mask_format: Literal["nifti", "mhd"] = "nifti"
    engine: Literal["auto", "torch", "onnx"] = "auto"
    device: str = "auto"
    overwrite: bool = False
    include_phi: bool = False
    write_seg: bool | None = None
    scoring_preset: str = "default"
    kvp: float | None = None

    def __post_init__(self) -> None:
        if self.mask_format not in MASK_FORMATS:
            raise CacscoreError(
                f"mask format must be one of {', '.join(MASK_FORMATS)}, not {self.mask_format!r}")
        if self.engine not in ENGINES:
            raise CacscoreError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")


def scoring_threshold_hu(volume: Volume, settings: Any) -> float:
    """The calcium threshold (HU) the scoring settings apply to ``volume`` (the kVp table when unset)."""
    from cacscore.scoring import resolve_threshold

    return float(resolve_threshold(settings, volume.info.kvp)[0])


def candidate_min_area_mm2(volume: Volume, settings: Any) -> float:
    """The smallest in-plane area (mm2) a candidate needs on one slice: the scoring minimum area, or the
    preset's minimum voxel count in mm2 where that is larger (the candidates are a superset of what
    Agatston scores, see :mod:`cacscore.detection.candidates`)."""
    return max(settings.min_area_mm2, getattr(settings, "min_voxels", 0) * volume.pixel_area_mm2)


@dataclass(frozen=True, eq=False)
class CandidateScan:
    """One scan made ready for the classifier by :func:`prepare_scan`.

    Attributes:
        volume: the CT volume.
        thorax: its body, lungs and bone.
        roi: the heart ROI (bool, the volume's grid).
        roi_source: "auto" (the automatic ROI), "mask" (given) or "whole body" (no heart was found).
        candidates: the calcium candidates inside the ROI.
        reference: the scan's soft-tissue level and noise.
        descriptors: (N, F) float32 descriptors of the candidates (:data:`DESCRIPTOR_NAMES`).
        warnings: what the caller should tell the reader (no heart found, ...).
        timings_s: seconds per step.
    """

    volume: Volume
    thorax: Thorax
    roi: np.ndarray
    roi_source: str
    candidates: CandidateSet
    reference: TissueReference
    descriptors: np.ndarray
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)


def prepare_scan(
    volume: Volume,
    heart_mask: np.ndarray | None = None,
    *,
    settings: Any = None,
    connectivity: int = 26,
) -> CandidateScan:
    """Thorax, heart ROI, candidates and their descriptors of one scan (the steps before the classifier).

    Args:
        volume: the CT volume.
        heart_mask: a heart mask on the scan's grid (bool), or None for the automatic ROI; where no heart is
            found the whole body is searched, with a warning.
        settings: scoring settings (:class:`cacscore.scoring.ScoringSettings`) whose threshold and minimum
            area define the candidates; the default preset when None.
        connectivity: 3-D connectivity of the candidates (6, 18, 26).
    """
    from cacscore.detection.heart_roi import heart_roi, whole_body_roi
    from cacscore.scoring import get_preset

    settings = get_preset("default") if settings is None else settings
    timings: dict[str, float] = {}
    warnings: list[str] = []
    t = time.perf_counter()
    thorax = find_thorax(volume)
    if heart_mask is None:
        try:
            roi = np.asarray(heart_roi(volume, thorax=thorax), dtype=bool)
            roi_source = "auto"
        except CacscoreError as exc:
            # e.g. a calibration phantom without lungs: search the whole body and say so
            roi = np.asarray(whole_body_roi(volume), dtype=bool)
            roi_source = "whole body"
            warnings.append(f"no heart region found automatically ({exc}); the whole body was searched "
                            "for coronary calcium: give --heart-mask for a reliable result")
            log.warning("%s", warnings[-1])
    else:
        roi = np.asarray(heart_mask).astype(bool, copy=False)
        if roi.shape != volume.shape:
            raise CacscoreError(f"the heart mask has shape {roi.shape}, the scan {volume.shape} "
                                "(z, y, x); give a mask on the scan's grid")
        roi_source = "mask"
    timings["heart_roi"] = time.perf_counter() - t
    t = time.perf_counter()
    candidates = find_candidates(volume, roi, threshold_hu=scoring_threshold_hu(volume, settings),
                                 connectivity=connectivity,
                                 min_area_mm2=candidate_min_area_mm2(volume, settings))
    timings["candidates"] = time.perf_counter() - t
    t = time.perf_counter()
    reference = tissue_reference(volume, roi)
    descriptors = describe_candidates(volume, candidates, roi, thorax, reference=reference)
    timings["descriptors"] = time.perf_counter() - t
    return CandidateScan(volume, thorax, roi, roi_source, candidates, reference, descriptors,
                         tuple(warnings), timings)


@dataclass(frozen=True, eq=False)
class Prediction:
    """The result of one scan in memory.

    Attributes:
        labels: uint8 (z, y, x) label volume on the input grid (Artery codes; 0 background).
        scan: what :func:`prepare_scan` made of the scan (ROI, candidates, descriptors).
        probabilities: (N, 4) class probabilities per candidate (not coronary, LAD, LCX, RCA).
        classes: (N,) Artery code given to each candidate (0 = not coronary).
        score: the scoring result (``.to_dict()`` is the JSON of the scoring issue).
        timings_s: seconds per step.
        model: model id, engine and class names.
        warnings: what the reader must know (no heart found, a scan unlike the training scans, ...).
        overruled: (N,) str, for each candidate the network called coronary that an anatomical veto of
            the decision rule made not coronary, the veto's reason ("" elsewhere;
            :meth:`~cacscore.detection.classifier.DecisionRule.vetoes`).
        domain: the out-of-domain check (:meth:`cacscore.detection.domain.DomainCheck.to_dict`), or {}
            when the model folder records no training domain.
        network_probabilities: (N, 4) the network's own probabilities where the model names the artery by
            position (:mod:`cacscore.detection.artery`; ``probabilities`` then hold the network's
            p(not coronary) and the rest split by the position's artery shares), else None.
    """

    labels: np.ndarray
    scan: CandidateScan
    probabilities: np.ndarray
    classes: np.ndarray
    score: Any
    timings_s: dict[str, float]
    model: dict[str, Any]
    warnings: tuple[str, ...] = ()
    domain: dict[str, Any] = field(default_factory=dict)
    overruled: np.ndarray | None = None
    network_probabilities: np.ndarray | None = None

    @property
    def volume(self) -> Volume:
        return self.scan.volume

    @property
    def candidates(self) -> CandidateSet:
        return self.scan.candidates

    @property
    def heart_mask(self) -> np.ndarray:
        return self.scan.roi

    def ruled_out_mask(self) -> np.ndarray:
        """bool (z, y, x): the voxels of the candidates the network called coronary and an anatomical veto
        made not coronary (:attr:`overruled`), so that a report can show them for checking."""
        if self.overruled is None:
            return np.zeros(self.labels.shape, bool)
        return self.candidates.paint(self.overruled != "", dtype=bool)

    def result_dict(self, case_id: str | None = None) -> dict[str, Any]:
        """The result.json content: the scoring JSON plus case id, model, each lesion's probability of being
        coronary calcium, the candidate table and timings."""
        result: dict[str, Any] = {"case_id": case_id} if case_id is not None else {}
        result.update(self.score.to_dict())
        info = self.volume.info
        scan = result.setdefault("scan", {})
        for key in ("modality", "manufacturer", "model", "kernel", "series_description"):
            value = getattr(info, key, None)
            if value is not None:
                scan.setdefault(key, value)
        scan["tissue_reference"] = self.scan.reference.to_dict()
        self._attach_probabilities(result.get("lesions") or [])
        certainty = category_certainty(result.get("lesions") or [], self.score.agatston["total"],
                                       self.score.risk_category.scheme)
        result["category_certainty"] = certainty.to_dict()
        result["model"] = dict(self.model)
        roi_ml = float(self.scan.roi.sum()) * self.volume.voxel_volume_mm3 / 1000.0
        result["heart_roi"] = {"source": self.scan.roi_source, "volume_ml": round(roi_ml, 1)}
        if self.domain:
            result["domain"] = dict(self.domain)
        warnings = [*self.warnings, *filter(None, [certainty.warning()])]
        if warnings:
            result["warnings"] = warnings
        result["candidates"] = self.candidate_table()
        result["timings_s"] = {k: round(v, 4) for k, v in self.timings_s.items()}
        return result

    def candidate_table(self) -> list[dict[str, Any]]:
        """One entry per candidate: class, probability of each class, size, position (mm), descriptors."""
        rows = []
        names = self.model.get("class_names", ["not coronary", "LAD", "LCX", "RCA"])
        overruled = self.overruled if self.overruled is not None else np.full(len(self.classes), "")
        rows_in = zip(self.candidates.candidates, self.probabilities, self.classes, self.scan.descriptors,
                      overruled, strict=True)
        for cand, probs, code, described, overrule in rows_in:
            centre = self.volume.index_to_physical(np.asarray(cand.centroid_zyx))
            rows.append(
                {
                    "index": cand.index,
                    "label": Artery(int(code)).name if code else "none",
                    "probability": round(float(probs.max()), 4),
                    "probabilities": {n: round(float(p), 4) for n, p in zip(names, probs, strict=True)},
                    "centroid_mm": [round(float(c), 2) for c in centre],
                    "volume_mm3": round(cand.volume_mm3, 3),
                    "peak_hu": cand.peak_hu,
                    "slices": [cand.bbox_zyx[0], cand.bbox_zyx[3] - 1],
                    "descriptors": {n: round(float(v), 4) for n, v in zip(DESCRIPTOR_NAMES, described,
                                                                          strict=True)},
                }
            )
            if overrule:
                rows[-1]["overruled"] = overrule  # the network called it coronary; this anatomy says not
            if self.network_probabilities is not None:  # the artery was named by position
                rows[-1]["network_probabilities"] = {
                    n: round(float(p), 4)
                    for n, p in zip(names, self.network_probabilities[len(rows) - 1], strict=True)}

        return rows

    def _attach_probabilities(self, lesions: list[dict]) -> None:
        """Give each scored lesion ``probability_coronary``: the probability that the candidate it came from
        (by its centroid) is coronary calcium, 1 - p(not coronary), whatever its artery."""
        if not lesions or not len(self.candidates):
            return
        centroids = np.array([c.centroid_zyx for c in self.candidates.candidates])
        spacing = np.asarray(self.volume.spacing_zyx_mm)
        inverse = np.linalg.inv(self.volume.direction)
        for lesion in lesions:
            centre = lesion.get("centroid_mm")
            if centre is None:
                continue
            xyz = inverse @ (np.asarray(centre, float) - np.asarray(self.volume.origin_xyz_mm))
            zyx = xyz[::-1] / spacing
            idx = tuple(np.clip(np.round(zyx).astype(int), 0, np.asarray(self.volume.shape) - 1))
            hit = int(self.candidates.label_map[idx])
            if hit == 0:  # centroid outside the voxels (curved lesion): nearest candidate centroid
                hit = int(np.argmin((((centroids - zyx) * spacing) ** 2).sum(axis=1))) + 1
            lesion["probability_coronary"] = round(1.0 - float(self.probabilities[hit - 1, 0]), 4)


class Predictor:
    """A loaded model plus the settings to run it; reuse one across many scans.

    Args:
        engine: an :class:`~cacscore.models.engine.Engine` (its config.json holds the input spec, the
            decision rule and the training domain).
        options: predict options (scoring preset, kVp).
    """

    def __init__(self, engine: Any, options: PredictOptions = PredictOptions()) -> None:
        from cacscore.scoring import get_preset

        self.engine = engine
        self.options = options
        config = engine.config
        self.spec = CandidateInputSpec.from_dict(config.get("input_spec", {}))
        self.class_names = list(config.get("class_names", ["not coronary", "LAD", "LCX", "RCA"]))
        self.rule = DecisionRule.from_config(config.get("decision", {}),
                                             tuple(config.get("class_codes", (0, 1, 2, 3))))
        self.domain = TrainingDomain.from_dict(config["domain"]) if "domain" in config else None
        self.artery = (ArteryByPosition.from_dict(config["artery_by_position"])
                       if "artery_by_position" in config else None)
        self.connectivity = int(config.get("candidates", {}).get("connectivity", 26))
        self.settings = get_preset(options.scoring_preset)
        if options.kvp is not None:
            self.settings = replace(self.settings, kvp=float(options.kvp))
        self.model_info = {
            "id": str(config.get("model_id") or Path(engine.model_dir).name),
            "engine": engine.name,
            "class_names": self.class_names,
        }

    def predict_volume(self, volume: Volume, heart_mask: np.ndarray | None = None) -> Prediction:
        """Classify and score one scan; ``heart_mask`` (bool, the scan's grid) replaces the automatic ROI.

        Raises:
            CacscoreError: a volume predict cannot score (:func:`cacscore.io.validate.check_scorable`:
                slices too small for a heart, a DICOM CT without air); a doubtful one is scored with a
                warning.
        """
        from cacscore.io.validate import check_scorable
        from cacscore.scoring import score_volume

        doubts = check_scorable(volume, volume.info.source or "the scan")
        scan = prepare_scan(volume, heart_mask, settings=self.settings, connectivity=self.connectivity)
        timings = dict(scan.timings_s)
        t = time.perf_counter()
        inputs = sample_candidate_inputs(volume, scan.candidates, scan.descriptors, scan.reference, self.spec)
        timings["inputs"] = time.perf_counter() - t
        t = time.perf_counter()
        n_classes = len(self.rule.class_codes)
        probabilities = (self.engine.predict_proba(inputs) if len(scan.candidates)
                         else np.zeros((0, n_classes), np.float32))
        network, artery = None, None
        by_position = self.artery is not None and scan.roi_source == self.artery.roi
        if by_position:  # the artery by position (measured in a ROI of this kind); the network: coronary?
            shares, artery = self.artery.shares(scan.descriptors)
            network = probabilities
            probabilities = np.concatenate([network[:, :1], (1.0 - network[:, :1]) * shares], axis=1)
        model = {**self.model_info, "artery_from": "position" if by_position else "network"}
        classes, overruled = self.rule.decide(probabilities, scan.descriptors, artery)
        labels = scan.candidates.paint(classes, dtype=np.uint8)
        timings["classify"] = time.perf_counter() - t
        warnings = [*doubts, *scan.warnings]
        noisy = noise_warning(scan.reference)
        if noisy:
            warnings.append(noisy)
            log.warning("%s", noisy)
        domain: dict[str, Any] = {}
        if self.domain is not None:
            check = check_domain(self.domain, scan_measures(volume, scan.reference), scan.descriptors,
                                 classes > 0)
            domain = check.to_dict()
            if check.warning():
                warnings.append(check.warning())
                log.warning("%s", warnings[-1])
        t = time.perf_counter()
        score = score_volume(volume, labels, self.settings)
        timings["score"] = time.perf_counter() - t
        log.info("%d candidate(s), %d coronary", len(scan.candidates), int(np.count_nonzero(classes)))
        return Prediction(labels, scan, probabilities, classes, score, timings, model, tuple(warnings),
                          domain, overruled, network)


def load_predictor(options: PredictOptions = PredictOptions()) -> Predictor:
    """Load the model named by ``options`` (the shipped one by default) once, for many scans."""
    from cacscore.models.engine import load_engine

    model_dir = Path(options.model_dir) if options.model_dir is not None else shipped_model_dir()
    if not model_dir.is_dir():
        raise CacscoreError(f"model folder {model_dir} does not exist; "
                            "give the folder `cacscore train` wrote")
    return Predictor(load_engine(model_dir, options.engine, options.device), options)
