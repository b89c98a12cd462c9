"""A synthetic replica of the real QRM phantom scan in ../shared/data/qrm-phantom, and the measurements
that compare the two (used to calibrate the "canon" preset; see docs/phantom.md).

The real scan: Canon Aquilion ONE, 120 kVp, FC12, 3 mm slices every 3 mm, 0.488 mm pixels, 47 slices; a QRM
thorax phantom with the cardiac calcification insert (CCI): nine hydroxyapatite (HA) cylinders whose length
equals their diameter (1, 3, 5 mm) at 200, 400 and 800 mgHA/ml, in a ~75 HU insert background, plus a
200 mgHA/ml calibration rod and a water rod. The replica copies that geometry (insert centres from
reference.json; the two small inserts that reference.json does not locate are put on the line of their
siblings) and forms the image with the preset's PSF, slice profile and noise.

HA attenuation: a CCI insert of density rho (mgHA/ml) is rendered at HU = 36.56 + 1.4876 x rho (before blur
and noise: 334.1 HU at 200, 631.6 at 400, 1226.6 at 800 mgHA/ml), the line measured on the real scan through
the water rod and the 5 mm inserts (:data:`QRM_INSERT_HU_PER_MG_ML`, :data:`QRM_WATER_HU`). The 200 mgHA/ml
calibration rod is rendered at 36.56 + 200 / 0.7220477 = 313.6 HU, from the published mass calibration factor
0.7220477 mg/(HU ml) of this scan (1.385 HU per mgHA/ml; van Praagh et al., Med Phys 2021, in reference.json),
which is less steep than the inserts' line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from cacscore.constants import THRESHOLD_HU_120KVP
from cacscore.labels import Artery
from cacscore.phantom.grid import Grid
from cacscore.phantom.imaging import Ellipsoid, blur_anatomy, correlated_noise, render_object
from cacscore.phantom.presets import get_preset
from cacscore.volume import ScanInfo, Volume

#: Published mass calibration factor of the real scan, mg / (HU ml) (reference.json).
QRM_CALIBRATION_MG_PER_HU_ML: float = 0.7220477
#: Geometry of the real scan (reference.json and its DICOM headers).
QRM_SHAPE_ZYX: tuple[int, int, int] = (47, 512, 512)
QRM_SPACING_ZYX_MM: tuple[float, float, float] = (3.0, 0.488, 0.488)
QRM_ORIGIN_XYZ_MM: tuple[float, float, float] = (-128.5058, -106.00581, 534.875)
#: Insert slice (0-based, ascending z) and the CCI centre (row, col) and radius, from the real scan.
QRM_INSERT_SLICE: int = 22
QRM_CCI_CENTRE_RC: tuple[float, float] = (215.0, 258.0)
QRM_CCI_RADIUS_MM: float = 50.0
#: Where noise is measured on both scans: a disc of this radius at the CCI centre on these slices (no insert,
#: no rod there; reference.json gives 21.57 HU for the insert background).
NOISE_ROI_RADIUS_MM: float = 19.5
NOISE_ROI_SLICES: tuple[int, ...] = tuple(range(12, 20))
#: Insert name -> (diameter = length in mm, density mgHA/ml, centre (row, col) on the insert slice).
QRM_INSERTS: dict[str, tuple[float, float, tuple[float, float]]] = {
    "Large_HD": (5.0, 800.0, (220.0, 179.0)),
    "Medium_HD": (3.0, 800.0, (220.0, 205.0)),
    "Small_HD": (1.0, 800.0, (220.0, 230.0)),
    "Large_MD": (5.0, 400.0, (152.0, 291.0)),
    "Medium_MD": (3.0, 400.0, (173.0, 280.0)),
    "Small_MD": (1.0, 400.0, (194.0, 269.0)),
    "Large_LD": (5.0, 200.0, (281.0, 298.0)),
    "Medium_LD": (3.0, 200.0, (260.0, 285.0)),
    "Small_LD": (1.0, 200.0, (239.0, 272.0)),
}
#: Height of the insert plane above the centre of the insert slice (mm) at the CCI centre, and its tilts
#: (mm of z per mm of x, per mm of y): the real inserts are not in one axial plane (slices 21/23 of the real
#: scan show the 5 mm inserts at different partial-volume ratios), so these were read off the real scan by
#: matching the replica's slice 21/22/23 profiles and scores of the inserts (see docs/phantom.md).
QRM_INSERT_Z_OFFSET_MM: float = -0.5
QRM_INSERT_Z_TILT: float = -0.015
QRM_INSERT_Z_TILT_Y: float = 0.01
_BACKGROUND_HU = 75.0


@dataclass
class QrmReplica:
    """The replica scan and where its inserts are."""

    volume: Volume
    inserts: dict[str, dict] = field(default_factory=dict)


#: HU per mgHA/ml of the CCI inserts, measured on the real scan: least-squares line through the water rod
#: (36.56 HU) and the centre of the three 5 mm inserts on slice 22 (3x3 mean: 338, 623, 1230 HU at 200, 400,
#: 800 mgHA/ml). The published factor (1 / 0.7220477 = 1.385) and the 200 mgHA/ml rod (~309 HU -> 1.36)
#: give less; the inserts' HA matrix evidently differs from the rod's (see docs/phantom.md).
QRM_INSERT_HU_PER_MG_ML: float = 1.4876
QRM_WATER_HU: float = 36.56


def ha_hu(density_mg_ml: float, hu_per_mg_ml: float = QRM_INSERT_HU_PER_MG_ML) -> float:
    """HU of a CCI hydroxyapatite insert of ``density_mg_ml`` (water HU + slope x density)."""
    return QRM_WATER_HU + hu_per_mg_ml * density_mg_ml


def generate_qrm_replica(
    vendor: str = "canon", seed: int = 0, noise_sd_hu: float | None = None
) -> QrmReplica:
    """Synthesise the QRM phantom scan with a vendor preset (the real one was scanned on a Canon).

    The noise SD defaults to the middle of the preset's range (the preset's nominal noise).
    """
    preset = get_preset(vendor)
    grid = Grid(QRM_SHAPE_ZYX, QRM_SPACING_ZYX_MM, QRM_ORIGIN_XYZ_MM)
    rng = np.random.default_rng(seed)
    nz, ny, nx = grid.shape
    dz, dy, dx = grid.spacing_zyx_mm
    rows = np.arange(ny)[:, None].astype(np.float32)
    cols = np.arange(nx)[None, :].astype(np.float32)
    # Thorax phantom: soft-tissue shell, lungs, CCI cylinder, spine; the CCI runs over slices 10..38.
    t = np.full((ny, nx), -1000.0, np.float32)
    body = ((rows - 285) / 250) ** 2 + ((cols - 258) / 300) ** 2 <= 1
    t[body] = 40.0
    lungs = (((rows - 260) / 180) ** 2 + ((cols - 258) / 220) ** 2 <= 1) & ~(np.abs(rows - 95) < 25)
    t[lungs & body] = -810.0
    t[(rows < 120) & (np.abs(cols - 258) < 70) & body] = 40.0
    cci2 = (rows - QRM_CCI_CENTRE_RC[0]) ** 2 + (cols - QRM_CCI_CENTRE_RC[1]) ** 2 <= (
        QRM_CCI_RADIUS_MM / dy
    ) ** 2
    spine = (rows - 345) ** 2 + (cols - 258) ** 2 <= 30**2
    t[spine] = 480.0
    t[(rows - 345) ** 2 + (cols - 258) ** 2 <= 27**2] = 160.0
    t[(np.abs(cols - 258) < 8) & (rows > 370) & (rows < 480)] = 500.0
    hu = np.broadcast_to(t, grid.shape).copy()
    ks = np.arange(nz)[:, None, None]
    in_cci = (ks >= 10) & (ks <= 38)
    hu[np.broadcast_to(in_cci, grid.shape) & np.broadcast_to(cci2, grid.shape)] = -810.0
    hu[np.broadcast_to((ks >= 11) & (ks <= 37), grid.shape) & np.broadcast_to(cci2, grid.shape)] = (
        _BACKGROUND_HU
    )
    # Calibration rod (200 mgHA/ml) and water rod, slices ~30..37.
    rod = (rows - 218) ** 2 + (cols - 258) ** 2 <= (5.0 / dy) ** 2
    water = (rows - 150) ** 2 + (cols - 225) ** 2 <= (5.0 / dy) ** 2
    for k in range(30, 38):
        hu[k][rod] = QRM_WATER_HU + 200.0 / QRM_CALIBRATION_MG_PER_HU_ML
        hu[k][water] = QRM_WATER_HU
    image = blur_anatomy(hu, grid, preset)
    z_plane = grid.axis_mm(0)[QRM_INSERT_SLICE] + QRM_INSERT_Z_OFFSET_MM
    inserts: dict[str, dict] = {}
    for name, (diam, dens, (r, c)) in QRM_INSERTS.items():
        z_ins = (
            z_plane
            + QRM_INSERT_Z_TILT * (c - QRM_CCI_CENTRE_RC[1]) * dx
            + QRM_INSERT_Z_TILT_Y * (r - QRM_CCI_CENTRE_RC[0]) * dy
        )
        centre = np.array([grid.origin_xyz_mm[0] + c * dx, grid.origin_xyz_mm[1] + r * dy, z_ins])
        cyl = Ellipsoid(
            centre,
            np.array([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]),
            np.array([diam / 2] * 3),
            ha_hu(dens),
            core_falloff=0.0,
            shape="cylinder",
        )
        rendered = render_object(grid, [cyl], _BACKGROUND_HU, preset)
        if rendered is not None:
            image[rendered.box] += rendered.contribution
        inserts[name] = {
            "diameter_mm": diam,
            "density_mgHA_per_ml": dens,
            "centre_row_col": [r, c],
            "insert_hu": round(ha_hu(dens), 1),
        }
    sd = noise_sd_hu if noise_sd_hu is not None else float(np.mean(preset.noise_sd_hu))
    image += correlated_noise(rng, grid, preset, sd)
    image = np.clip(np.rint(image), -1024, 3071).astype(np.float32)
    info = ScanInfo(
        modality="CT",
        kvp=preset.kvp,
        slice_thickness_mm=preset.slice_thickness_mm,
        slice_increment_mm=dz,
        manufacturer=preset.manufacturer,
        model=preset.model,
        kernel=preset.kernel,
        series_description="QRM replica (cacscore phantom)",
    )
    vol = Volume(hu=image, spacing_zyx_mm=grid.spacing_zyx_mm, origin_xyz_mm=grid.origin_xyz_mm, info=info)
    return QrmReplica(volume=vol, inserts=inserts)


def measure_noise_sd(volume: Volume) -> float:
    """Mean over :data:`NOISE_ROI_SLICES` of the HU SD in a disc at the CCI centre (same ROI on both)."""
    ny, nx = volume.shape[1:]
    rows = np.arange(ny)[:, None]
    cols = np.arange(nx)[None, :]
    r_px = NOISE_ROI_RADIUS_MM / volume.spacing_zyx_mm[1]
    disc = (rows - QRM_CCI_CENTRE_RC[0]) ** 2 + (cols - QRM_CCI_CENTRE_RC[1]) ** 2 <= r_px**2
    return float(np.mean([volume.hu[k][disc].std() for k in NOISE_ROI_SLICES]))


def insert_mask(
    volume: Volume,
    centre_rc: tuple[float, float],
    radius_mm: float = 6.0,
    slices: tuple[int, int] = (QRM_INSERT_SLICE - 2, QRM_INSERT_SLICE + 3),
) -> np.ndarray:
    """Voxels >= 130 HU of the 3-D connected region (26-connectivity) containing the brightest voxel within
    ``radius_mm`` of the insert centre on the insert slices; empty when nothing there reaches 130 HU."""
    ny, nx = volume.shape[1:]
    rows = np.arange(ny)[:, None]
    cols = np.arange(nx)[None, :]
    r_px = radius_mm / volume.spacing_zyx_mm[1]
    disc = (rows - centre_rc[0]) ** 2 + (cols - centre_rc[1]) ** 2 <= r_px**2
    near = np.zeros(volume.shape, bool)
    near[slices[0] : slices[1]] = disc
    calcium = near & (volume.hu >= THRESHOLD_HU_120KVP)
    out = np.zeros(volume.shape, bool)
    if not calcium.any():
        return out
    lab, _ = ndimage.label(calcium, structure=np.ones((3, 3, 3), bool))
    hu_near = np.where(calcium, volume.hu, -np.inf)
    peak = np.unravel_index(int(np.argmax(hu_near)), volume.shape)
    return lab == lab[peak]


def measure_inserts(volume: Volume, names: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Agatston, volume and mass of each insert, scored by :func:`cacscore.scoring.score_volume` (default
    settings: 130 HU, 1 mm^2, clinical convention) on the insert's >= 130 HU region."""
    from cacscore.scoring import score_volume

    out: dict[str, dict] = {}
    for name in names or tuple(QRM_INSERTS):
        mask = insert_mask(volume, QRM_INSERTS[name][2])
        labels = np.where(mask, np.uint8(Artery.LAD), np.uint8(0))
        if not mask.any():
            out[name] = {"agatston": 0.0, "volume_mm3": 0.0}
            continue
        res = score_volume(volume, labels)
        out[name] = {"agatston": float(res.agatston["total"]), "volume_mm3": float(res.volume_mm3["total"])}
    return out
