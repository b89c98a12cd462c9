"""predict end to end with the shipped model: empty scans, look-alikes only, a scan with calcium, outputs on
the input grid, scores that equal a rescoring of the written mask by hand (Agatston's definition written
out in the test), and the real QRM scan."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813

from cacscore.case_folder import predict_to_folder
from cacscore.detection.pipeline import PredictOptions, load_predictor
from cacscore.io import read_mask, read_volume, write_mask, write_volume
from cacscore.labels import Artery
from cacscore.phantom import generate_case
from cacscore.volume import Volume


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(PredictOptions())


def _write_case(tmp_path, case, name):
    image = tmp_path / "in" / f"{name}.nii.gz"
    image.parent.mkdir(parents=True, exist_ok=True)
    write_volume(case.volume, image)
    mask = tmp_path / "in" / f"{name}_heart.nii.gz"
    write_mask(case.heart_mask, case.volume, mask)
    return image, mask


def _small_scan(tmp_path, name, seed=0):
    """A small synthetic scan (soft tissue, one dense blob) and its heart mask, for tests of files."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(40.0, 10.0, (16, 80, 80)).astype(np.float32)
    hu[7:9, 38:42, 38:42] = 400.0
    volume = Volume(hu, (3.0, 0.6, 0.6))
    image = tmp_path / "in" / f"{name}.nii.gz"
    image.parent.mkdir(parents=True, exist_ok=True)
    write_volume(volume, image)
    heart = np.zeros(hu.shape, bool)
    heart[2:14, 10:70, 10:70] = True
    mask = tmp_path / "in" / f"{name}_heart.nii.gz"
    write_mask(heart, volume, mask)
    return image, mask


def test_scan_without_calcium_scores_zero(tmp_path, predictor):
    """A soft-tissue scan: no voxel reaches 130 HU, so no candidate, score 0, category 0, empty mask."""
    rng = np.random.default_rng(3)
    hu = rng.normal(40.0, 15.0, (20, 96, 96)).astype(np.float32).clip(-100, 120)
    image = tmp_path / "flat.nii.gz"
    write_volume(Volume(hu, (3.0, 0.5, 0.5)), image)
    heart = np.zeros(hu.shape, bool)
    heart[2:18, 10:86, 10:86] = True
    mask_path = tmp_path / "heart.nii.gz"
    write_mask(heart, read_volume(image), mask_path)
    outcome = predict_to_folder(image, tmp_path / "out", PredictOptions(heart_mask=mask_path), predictor)
    assert outcome.status == "ok", outcome.error
    r = outcome.result
    assert r["agatston"]["total"] == 0.0 and r["volume_mm3"]["total"] == 0.0
    assert r["risk_category"]["index"] == 0 and r["cac_drs"] == "CAC-DRS 0"
    assert r["lesions"] == [] and r["candidates"] == []
    labels = read_mask(tmp_path / "out" / "flat" / "calcium.nii.gz")
    assert labels.shape == hu.shape and not labels.any()
    assert (tmp_path / "out" / "flat" / "report.html").is_file()


def test_lookalikes_only_are_not_coronary(tmp_path, predictor):
    """Phantom scans with aortic/valve/mitral calcium, nodes and bone but no coronary calcium: score 0."""
    for seed, vendor in ((9101, "siemens"), (9102, "canon")):
        case = generate_case(seed, vendor, category=0)
        assert case.lookalikes.any() and not case.labels.any()
        image, mask = _write_case(tmp_path, case, f"look{seed}")
        outcome = predict_to_folder(image, tmp_path / "out", PredictOptions(heart_mask=mask), predictor)
        assert outcome.status == "ok", outcome.error
        assert outcome.result["agatston"]["total"] == 0.0, outcome.result["lesions"]
        assert outcome.result["risk_category"]["index"] == 0
        assert not read_mask(tmp_path / "out" / f"look{seed}" / "calcium.nii.gz").any()


def _agatston_by_hand(volume: Volume, labels: np.ndarray) -> dict[str, float]:
    """Agatston et al. 1990, written out independently of cacscore.scoring: on every slice, each
    8-connected region of labelled voxels >= 130 HU of at least 1 mm2 scores its area (mm2) times the
    weight of its peak HU (130-199: 1, 200-299: 2, 300-399: 3, >= 400: 4), for its majority artery;
    the sum is scaled by increment / 3 mm."""
    from scipy import ndimage

    pixel_mm2 = volume.spacing_zyx_mm[1] * volume.spacing_zyx_mm[2]
    scores = {"LAD": 0.0, "LCX": 0.0, "RCA": 0.0}
    for z in range(volume.shape[0]):
        regions, n = ndimage.label((labels[z] > 0) & (volume.hu[z] >= 130), structure=np.ones((3, 3)))
        for k in range(1, n + 1):
            region = regions == k
            area = region.sum() * pixel_mm2
            if area < 1.0:
                continue
            peak = volume.hu[z][region].max()
            weight = 1 if peak < 200 else 2 if peak < 300 else 3 if peak < 400 else 4
            codes, counts = np.unique(labels[z][region], return_counts=True)
            scores[Artery(int(codes[np.argmax(counts)])).name] += area * weight
    factor = volume.spacing_zyx_mm[0] / 3.0
    return {name: value * factor for name, value in scores.items()} | {
        "total": sum(scores.values()) * factor}


def test_calcium_scan_outputs_agree_with_a_rescoring_by_hand(tmp_path, predictor):
    case = generate_case(9201, "philips", category=3)
    image, mask = _write_case(tmp_path, case, "calc")
    outcome = predict_to_folder(image, tmp_path / "out", PredictOptions(heart_mask=mask), predictor)
    assert outcome.status == "ok", outcome.error
    folder = tmp_path / "out" / "calc"
    volume = read_volume(image)
    labels = read_mask(folder / "calcium.nii.gz", like=volume)  # same grid as the input, exactly
    assert set(np.unique(labels)) <= {0, int(Artery.LAD), int(Artery.LCX), int(Artery.RCA)}
    result = json.loads((folder / "result.json").read_text())
    by_hand = _agatston_by_hand(volume, labels)
    assert by_hand["total"] > 0
    for key, value in by_hand.items():
        assert result["agatston"][key] == pytest.approx(value, abs=0.05), key
    # the reference calcium is found (detection quality is measured on 40 patients in docs/results.md)
    calcium = (volume.hu >= 130) & (case.labels > 0)
    assert (labels[calcium] > 0).mean() >= 0.9
    assert result["model"]["id"] and result["timings_s"]["classify"] >= 0
    # a lesion is scored because its candidate was called coronary: p(coronary) >= the rule's 0.5
    assert all(0.5 <= les["probability_coronary"] <= 1.0 for les in result["lesions"])
    # the category's certainty is the lesions' own: the unsure ones are those below the threshold
    certainty = result["category_certainty"]
    assert certainty["category"] == result["risk_category"]["label"]
    assert sorted(u["id"] for u in certainty["unsure_lesions"]) == sorted(
        les["id"] for les in result["lesions"] if les["probability_coronary"] < certainty["unsure_below"])
    page = (folder / "report.html").read_text()
    assert "data:image/png;base64," in page and 'id="per-artery"' in page


def test_kvp_option_sets_the_threshold_of_a_file_without_kvp(tmp_path, predictor):
    """NIfTI carries no kVp: without --kvp the 120 kVp threshold (130 HU) is used with a warning; with
    kvp=80 the 80 kVp threshold of the table (167 HU, Grani et al. 2018) is used and nothing is warned."""
    image, mask = _small_scan(tmp_path, "nokvp")
    plain = predict_to_folder(image, tmp_path / "a", PredictOptions(heart_mask=mask), predictor)
    assert plain.result["settings"]["threshold_hu"] == 130
    assert any("kVp is unknown" in w for w in plain.result["scan"]["warnings"])
    low = load_predictor(PredictOptions(kvp=80))
    at80 = predict_to_folder(image, tmp_path / "b", PredictOptions(heart_mask=mask, kvp=80), low)
    assert at80.status == "ok", at80.error
    assert at80.result["settings"]["threshold_hu"] == 167 and at80.result["settings"]["kvp"] == 80.0
    assert not any("kVp" in w for w in at80.result["scan"]["warnings"])


def test_mhd_mask_format_is_short_integers(tmp_path, predictor):
    image, mask = _small_scan(tmp_path, "TRV3P9CTI")
    options = PredictOptions(heart_mask=mask, mask_format="mhd")
    outcome = predict_to_folder(image, tmp_path / "out", options, predictor)
    assert outcome.status == "ok", outcome.error
    header = tmp_path / "out" / "TRV3P9CTI" / "calcium.mhd"
    assert "ElementType = MET_SHORT" in header.read_text()
    img = sitk.ReadImage(str(header))
    assert img.GetSize() == (80, 80, 16)
    np.testing.assert_allclose(img.GetSpacing(), (0.6, 0.6, 3.0), atol=1e-4)


def test_existing_results_are_skipped_unless_overwrite_and_inputs_untouched(tmp_path, predictor):
    image, mask = _small_scan(tmp_path, "keep")
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    options = PredictOptions(heart_mask=mask)
    first = predict_to_folder(image, tmp_path / "out", options, predictor)
    assert first.status == "ok"
    second = predict_to_folder(image, tmp_path / "out", options, predictor)
    assert second.status == "skipped" and second.result["case_id"] == "keep"
    (tmp_path / "out" / "keep" / "report.html").unlink()
    third = predict_to_folder(image, tmp_path / "out", PredictOptions(heart_mask=mask, overwrite=True),
                              predictor)
    assert third.status == "ok" and (tmp_path / "out" / "keep" / "report.html").is_file()
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest
    assert not list((tmp_path / "out").glob(".keep*"))  # no staging folder left behind


def test_output_inside_or_over_an_input_is_refused(tmp_path, predictor):
    from cacscore.io import write_dicom_series

    small, _ = _small_scan(tmp_path, "small")
    volume = read_volume(small)
    # a case folder that would hold (and on --overwrite replace) the input file
    work = tmp_path / "work"
    image = work / "scan" / "scan.nii.gz"
    image.parent.mkdir(parents=True)
    write_volume(volume, image)
    for overwrite in (False, True):
        outcome = predict_to_folder(image, work, PredictOptions(overwrite=overwrite), predictor)
        assert outcome.status == "error" and "input" in outcome.error
    assert sorted(p.name for p in image.parent.iterdir()) == ["scan.nii.gz"]
    # an output folder inside a DICOM input folder
    dicom = tmp_path / "series"
    write_dicom_series(volume, dicom)
    before = sorted(p.name for p in dicom.rglob("*"))
    outcome = predict_to_folder(dicom, dicom / "results", PredictOptions(), predictor)
    assert outcome.status == "error" and "inside the input" in outcome.error
    assert sorted(p.name for p in dicom.rglob("*")) == before


def test_unreadable_input_is_an_error_with_nothing_written(tmp_path, predictor):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"this is not an image")
    outcome = predict_to_folder(bad, tmp_path / "out", PredictOptions(), predictor)
    assert outcome.status == "error" and outcome.error
    assert not (tmp_path / "out").exists()
    wrong_grid = tmp_path / "grid.nii.gz"
    write_volume(Volume(np.zeros((4, 8, 8), np.float32), (3.0, 1.0, 1.0)), wrong_grid)
    image, _ = _small_scan(tmp_path, "g")
    outcome = predict_to_folder(image, tmp_path / "out", PredictOptions(heart_mask=wrong_grid), predictor)
    assert outcome.status == "error" and "shape" in outcome.error
    assert not (tmp_path / "out").exists()


def test_real_qrm_scan(tmp_path, predictor, qrm_dicom_dir, qrm_reference):
    """The real Canon scan of the QRM thorax phantom: predict runs from DICOM and writes every output. The
    phantom has lung-equivalent inserts on both sides of a cardiac insert that holds nine hydroxyapatite
    cylinders in 75 HU plastic, and no coronary arteries: the cylinders are found as candidates (the
    large ones on slices 21-23, at reference.json's centres) and none of them, nor anything else, is
    coronary calcium."""
    outcome = predict_to_folder(qrm_dicom_dir, tmp_path / "out", PredictOptions(), predictor)
    assert outcome.status == "ok", outcome.error
    folder = tmp_path / "out" / "dicom"
    for name in ("calcium.nii.gz", "result.json", "report.html"):
        assert (folder / name).is_file(), name
    result = json.loads((folder / "result.json").read_text())
    assert result["scan"]["manufacturer"] == "TOSHIBA" and result["scan"]["kvp"] == 120.0
    assert result["scan"]["shape_zyx"] == [47, 512, 512]
    assert result["scan"]["increment_mm"] == pytest.approx(3.0)
    volume = read_volume(qrm_dicom_dir)
    prediction = predictor.predict_volume(volume)
    for name in ("Large_HD", "Large_MD", "Large_LD"):
        row, col = qrm_reference["inserts"][name]["center_row_col"]
        index = int(prediction.candidates.label_map[22, row, col])
        assert index > 0, f"the {name} insert is not a candidate"
        assert prediction.classes[index - 1] == 0, f"the {name} insert is called coronary"
    assert result["agatston"]["total"] == 0.0 and result["risk_category"]["index"] == 0
    assert not read_mask(folder / "calcium.nii.gz").any()
    # a candidate the network calls coronary (p(not coronary) <= 0.5) but the label is not says why
    for row in result["candidates"]:
        network_called = row["probabilities"]["not coronary"] <= 0.5
        assert ("overruled" in row) == (network_called and row["label"] == "none"), row["index"]
    page = (folder / "report.html").read_text()
    assert "TOSHIBA" in page and "Aquilion ONE" in page


def test_a_noisy_scan_is_scored_with_a_noise_warning(predictor, helpers):
    """The same small scan with its soft tissue at 12 HU and at 60 HU of white noise: the noisy one's result
    says the image is noisy and names the figure; the quiet one's does not. The noise is measured on pixels
    of -30..130 HU, which cuts N(40, 60) at -1.17 and +1.5 SD: a truncated normal of SD 0.68 x 60 = 41 HU
    (by hand: 1 + (a phi(a) - b phi(b)) / Z - ((phi(a) - phi(b)) / Z)^2 = 0.46), so the figure reads about
    41, not 60."""
    quiet, heart = helpers.synthetic_scan(3)
    rng = np.random.default_rng(1)
    body = quiet.hu > -500
    noisy_hu = np.where(body, quiet.hu + rng.normal(0.0, np.sqrt(60.0**2 - 12.0**2), quiet.shape), quiet.hu)
    noisy = Volume(noisy_hu.astype(np.float32), quiet.spacing_zyx_mm, quiet.origin_xyz_mm, quiet.direction,
                   quiet.info)
    assert not [w for w in predictor.predict_volume(quiet, heart).warnings if "noisy" in w]
    warned = [w for w in predictor.predict_volume(noisy, heart).warnings if "The image is noisy" in w]
    assert len(warned) == 1, warned
    figure = float(warned[0].split("(noise ")[1].split(" HU")[0])
    assert 38.0 <= figure <= 46.0
