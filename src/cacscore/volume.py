"""The CT volume that flows through cacscore: HU voxels with their geometry and scan metadata.

Arrays are indexed (z, y, x) = (slice, row, column). Physical coordinates (origin, direction) are patient
coordinates in millimetres in ITK/DICOM LPS order (x, y, z), exactly as SimpleITK reports them; only the
spacing is reversed to (z, y, x), once, at the I/O boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class ScanInfo:
    """Acquisition metadata; ``None`` where the file format does not carry the field.

    No patient-identifying field (name, ID, birth date, accession number) is ever stored here.
    """

    modality: str | None = None
    kvp: float | None = None
    slice_thickness_mm: float | None = None
    #: Distance between consecutive slice positions, measured from the positions themselves (mm).
    slice_increment_mm: float | None = None
    manufacturer: str | None = None
    model: str | None = None
    kernel: str | None = None
    series_uid: str | None = None
    study_uid: str | None = None
    series_description: str | None = None
    #: Where the volume was read from (file or folder), and which series was chosen when several were there.
    source: str | None = None
    series_note: str | None = None
    #: Warnings raised while reading (e.g. "kVp is 100, not 120"), kept for reports.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Volume:
    """A CT volume in Hounsfield units.

    Attributes:
        hu: float32 array (z, y, x) of Hounsfield units.
        spacing_zyx_mm: voxel spacing in mm, (z, y, x) order; z is the slice increment.
        origin_xyz_mm: patient position (LPS, mm) of the centre of voxel (0, 0, 0).
        direction: 3x3 matrix whose columns are the unit vectors (LPS) of the x, y and z index axes.
        info: scan metadata.
    """

    hu: np.ndarray
    spacing_zyx_mm: tuple[float, float, float]
    origin_xyz_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    info: ScanInfo = field(default_factory=ScanInfo)

    def __post_init__(self) -> None:
        if self.hu.ndim != 3:
            raise ValueError(f"a Volume needs a 3-D array (z, y, x), got shape {self.hu.shape}")
        object.__setattr__(self, "spacing_zyx_mm", tuple(float(s) for s in self.spacing_zyx_mm))
        object.__setattr__(self, "origin_xyz_mm", tuple(float(o) for o in self.origin_xyz_mm))
        object.__setattr__(self, "direction", np.asarray(self.direction, dtype=float).reshape(3, 3))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (z, y, x) in voxels."""
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def pixel_area_mm2(self) -> float:
        """In-plane area of one voxel (mm^2)."""
        return self.spacing_zyx_mm[1] * self.spacing_zyx_mm[2]

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel (mm^3), using the slice increment as its depth."""
        return self.spacing_zyx_mm[0] * self.pixel_area_mm2

    def index_to_physical(self, index_zyx: np.ndarray) -> np.ndarray:
        """Patient coordinates (LPS mm, x y z) of voxel indices given as (..., 3) arrays in (z, y, x)."""
        idx = np.asarray(index_zyx, dtype=float)[..., ::-1]
        spacing_xyz = np.asarray(self.spacing_zyx_mm[::-1])
        return np.asarray(self.origin_xyz_mm) + (idx * spacing_xyz) @ self.direction.T

    def with_hu(self, hu: np.ndarray) -> Volume:
        """The same geometry and metadata around another array of the same shape."""
        if hu.shape != self.hu.shape:
            raise ValueError(f"shape {hu.shape} differs from the volume's {self.hu.shape}")
        return replace(self, hu=hu)

    def grid_differences(self, other: Volume, atol_mm: float = 1e-3) -> list[str]:
        """What differs between this grid and ``other``'s: shape, spacing or origin (beyond ``atol_mm``),
        direction (beyond 1e-4); empty when they are the same grid."""
        problems = []
        if self.shape != other.shape:
            problems.append(f"shape {other.shape} vs {self.shape}")
        if not np.allclose(self.spacing_zyx_mm, other.spacing_zyx_mm, atol=atol_mm):
            problems.append(f"spacing {other.spacing_zyx_mm} vs {self.spacing_zyx_mm} mm")
        if not np.allclose(self.origin_xyz_mm, other.origin_xyz_mm, atol=atol_mm):
            problems.append(f"origin {other.origin_xyz_mm} vs {self.origin_xyz_mm} mm")
        if not np.allclose(self.direction, other.direction, atol=1e-4):
            problems.append("direction differs")
        return problems

    def same_grid(self, other: Volume, atol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape, spacing, origin and direction (within ``atol_mm``)."""
        return not self.grid_differences(other, atol_mm)
