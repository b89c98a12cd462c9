"""``cacscore info``: fields printed for a DICOM folder and an image file; one-line errors with exit 2."""

from __future__ import annotations

import numpy as np

from cacscore.cli.main import main
from cacscore.io import write_dicom_series, write_volume
from cacscore.volume import ScanInfo, Volume


def _volume() -> Volume:
    hu = np.full((4, 5, 6), -1000.0, dtype=np.float32)
    hu[1, 2, 3] = 412.0
    flip_x = np.diag([-1.0, 1.0, -1.0])  # x toward R, y toward P, z toward I: right-handed (det +1)
    return Volume(hu, (2.5, 0.6, 0.7), (10.0, 20.0, 30.0), flip_x,
                  ScanInfo(kvp=100.0, slice_thickness_mm=3.0, kernel="B35f", manufacturer="SIEMENS"))


def test_info_on_dicom_folder(tmp_path, capsys):
    vol = _volume()
    write_dicom_series(vol, tmp_path / "a", series_uid="1.2.826.0.1.1", study_uid="1.2.826.0.1",
                       patient_name="Doe^Jane", patient_id="PID12345")
    small = Volume(vol.hu[:2], vol.spacing_zyx_mm, vol.origin_xyz_mm, vol.direction, vol.info)
    write_dicom_series(small, tmp_path / "b", series_uid="1.2.826.0.1.2", study_uid="1.2.826.0.1")
    assert main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split("  ", 1) for line in out.splitlines())
    fields = {k.strip(): v.strip() for k, v in lines.items()}
    assert fields["shape (z, y, x)"] == "4 x 5 x 6"
    assert fields["spacing (z, y, x) mm"] == "2.5, 0.6, 0.7"
    assert fields["orientation"].startswith("RPI")
    assert fields["HU range"] == "-1000 .. 412"
    assert fields["kVp"] == "100"
    assert fields["slice thickness mm"] == "3"
    assert fields["slice increment mm"] == "2.5"
    assert fields["kernel"] == "B35f"
    assert fields["series"] == "1.2.826.0.1.1"
    assert "2 series found; read series 1.2.826.0.1.1 (4 slices" in fields["series chosen"]
    assert "Doe" not in out and "PID12345" not in out
    assert main(["info", str(tmp_path), "--series-uid", "1.2.826.0.1.2"]) == 0
    assert "2 x 5 x 6" in capsys.readouterr().out


def test_info_on_image_file(tmp_path, capsys):
    path = write_volume(_volume(), tmp_path / "ct.nii.gz")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 x 5 x 6" in out and "RPI" in out
    assert "kVp                   unknown" in out


def test_info_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cacscore info: error: ") and "missing does not exist" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["info", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err


def test_info_counts_third_party_warnings_in_one_row(tmp_path):
    """pydicom warns once per invalid UID per read ("Invalid value for VR UI"): info shows one row for all."""
    from helpers import edit_dicom, run_cli

    files = write_dicom_series(_volume(), tmp_path / "s", series_uid="1.2.826.0.1.1")
    edit_dicom(files, SeriesInstanceUID="1.2.03.abc")  # a leading zero and letters: not a valid UID
    code, out, err = run_cli(["info", str(tmp_path / "s")])
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("warning")]
    assert len(rows) == 1 and "warning(s) (1 distinct) from other libraries (pydicom" in rows[0], out
    assert "Invalid value for VR UI: '1.2.03.abc'" in rows[0] and "Invalid value" not in err
