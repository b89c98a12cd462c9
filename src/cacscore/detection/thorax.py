"""The thorax of a CT volume from HU alone: body, lungs and bone, on a coarse working grid.

The first detection step. The heart ROI (:mod:`cacscore.detection.heart_roi`) places the heart between the
lungs, and the candidate descriptors (:mod:`cacscore.detection.descriptors`) ask how far a candidate lies
from bone; both use what is found here, once per scan. Only physical tissue ranges are used (air < -400 HU,
fat about -100, soft tissue and blood 0-80, bone > 200), so a Siemens, a GE or a lung-screening scan is read
the same way:

1. working grid: the volume block-averaged in-plane to about ``work_spacing_mm`` (2 mm) and smoothed, plus
   its block maximum (thin bright cortex survives it);
2. body: the largest 3-D region above ``body_hu`` after an in-plane opening that removes the patient table,
   closed slice by slice by its convex hull and where it leaves the field of view (a cardiac field of view
   often cuts the body, and a lung with it, at the sides);
3. lungs: air (< ``air_hu``) inside the body, in connected parts of at least ``min_lung_volume_ml`` that do
   not hug the body outline (air outside the body, in skin folds or under the back does); where the field
   of view cuts a lung to a sliver along the body's hull, every large air region is the second choice;
4. bone: connected parts above ``bone_hu`` in the block maximum that hold at least ``min_bone_ml`` of thick
   tissue (spine, ribs, sternum; not calcium, not a metal lead), with the marrow they enclose on a slice.

The values were set from anatomy and physics and checked on the development phantom cases and the two
real chest CTs of ../shared/data (docs/reproduction.md, "Automatic heart ROI"); they are not fitted to a
scanner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cacscore.masks import distance2d, hull2d, largest_component, opening2d
from cacscore.volume import Volume


@dataclass(frozen=True)
class ThoraxSettings:
    """Parameters of :func:`find_thorax` (HU are physical tissue ranges).

    Attributes:
        body_hu: body vs outside air / table gap (-300 HU).
        table_mm: radius (mm) of the in-plane opening that removes the patient table (a shell a few mm
            thick under the back) and thin bridges to it.
        air_hu: lung air below this (-400 HU; lung parenchyma is about -850).
        bone_hu: bone above this (200 HU).
        min_bone_ml: smallest connected bright region counted as bone (smaller ones are calcium).
        max_marrow_mm2: largest hole in a slice's bone counted as marrow (a lumbar vertebral body is about
            2000 mm2; the ring of ribs, sternum and calcified cartilage around a whole chest is not marrow).
        min_lung_volume_ml: smallest air region counted as lung.
        rim_mm, max_rim_fraction: an air region with more than this fraction of its voxels within
            ``rim_mm`` of the body outline is outside air, not lung.
        smooth_mm: Gaussian smoothing (sigma, mm) of the working grid, against noise.
        work_spacing_mm: in-plane spacing of the working grid.
    """

    body_hu: float = -300.0
    table_mm: float = 4.0
    air_hu: float = -400.0
    bone_hu: float = 200.0
    min_bone_ml: float = 5.0
    max_marrow_mm2: float = 2500.0
    min_lung_volume_ml: float = 50.0
    rim_mm: float = 6.0
    max_rim_fraction: float = 0.3
    smooth_mm: float = 1.5
    work_spacing_mm: float = 2.0


@dataclass(frozen=True, eq=False)
class WorkGrid:
    """The volume on the coarse working grid: (z, y // fy, x // fx), the border rows/columns cropped.

    The crop is centred (half the remainder at each side), so that a scan stored mirrored (another
    orientation in its header) is cut into the same blocks of the same anatomy: with the remainder at one
    end, mirroring moved every block by up to ``factor - 1`` pixels and the ROI of a real chest CT (lung2)
    grew by 7 slices (exact when the remainder is even, e.g. 512 px in blocks of 3).

    Attributes:
        factor_yx: in-plane block size (pixels) of one working voxel.
        offset_yx: rows and columns cropped before the first block.
        spacing_zyx_mm: spacing of the working grid (mm).
        full_shape: shape of the volume.
        smooth: block-mean HU, Gaussian-smoothed in-plane (float32).
        brightest: block-maximum HU (float32).
    """

    factor_yx: tuple[int, int]
    offset_yx: tuple[int, int]
    spacing_zyx_mm: tuple[float, float, float]
    full_shape: tuple[int, int, int]
    smooth: np.ndarray
    brightest: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.smooth.shape  # type: ignore[return-value]

    @property
    def voxel_ml(self) -> float:
        sz, wy, wx = self.spacing_zyx_mm
        return sz * wy * wx / 1000.0

    def to_full(self, mask: np.ndarray) -> np.ndarray:
        """A working-grid mask on the volume's grid (each working voxel becomes its block; the cropped
        border is outside)."""
        fy, fx = self.factor_yx
        oy, ox = self.offset_yx
        out = np.zeros(self.full_shape, dtype=bool)
        _, h, w = mask.shape
        out[:, oy: oy + h * fy, ox: ox + w * fx] = np.repeat(np.repeat(mask, fy, axis=1), fx, axis=2)
        return out

    def index(self, zyx: np.ndarray) -> np.ndarray:
        """Working-grid indices (int, clipped to the grid) of full-grid voxel indices (..., 3)."""
        fy, fx = self.factor_yx
        oy, ox = self.offset_yx
        idx = np.floor((np.asarray(zyx, dtype=float) - np.array([0.0, oy, ox])) / np.array([1.0, fy, fx]))
        idx = idx.astype(int)
        return np.clip(idx, 0, np.asarray(self.shape) - 1)


@dataclass(frozen=True, eq=False)
class Thorax:
    """Body, lungs and bone of one scan on its :class:`WorkGrid` (bool arrays of the grid's shape).

    Attributes:
        grid: the working grid.
        body: inside the patient (closed where the field of view cuts it).
        fov: (y, x) the reconstructed field of view.
        lung_choices: the lungs, strictest choice first (see the module docstring); empty when the scan
            has none (a calibration phantom).
        bone: spine, ribs, sternum and their marrow.
        superior_up: whether increasing slice index goes towards the head.
        left_sign: +1 when increasing column index goes towards the patient's left (LPS storage), -1 when
            towards the right.
    """

    grid: WorkGrid
    body: np.ndarray
    fov: np.ndarray
    lung_choices: tuple[np.ndarray, ...]
    bone: np.ndarray
    superior_up: bool
    left_sign: float = 1.0

    @property
    def lungs(self) -> np.ndarray:
        """The first choice of lungs (all False when there are none)."""
        return self.lung_choices[0] if self.lung_choices else np.zeros(self.grid.shape, bool)


def find_thorax(volume: Volume, settings: ThoraxSettings = ThoraxSettings()) -> Thorax:
    """Body, lungs and bone of ``volume`` (see the module docstring); never raises for a scan without lungs
    (its :attr:`Thorax.lung_choices` is empty)."""
    grid = work_grid(volume, settings)
    wy, wx = grid.spacing_zyx_mm[1:]
    smooth = grid.smooth
    # The patient table is a thin curved shell under the back: the opening removes it (and thin bridges
    # to it) before the body is taken as the largest region, else the body's hull spans the table.
    body = largest_component(opening2d(smooth > settings.body_hu, settings.table_mm, wy, wx))
    # The convex hull of the body closes it where a cardiac field of view cuts it off, and so does the
    # field of view's own edge where the body leaves it (a lung cut by the field of view then stays inside);
    # air inside it is lung unless it hugs the body's real outline (air in skin folds, under the back,
    # between body and table); the field of view's edge is no outline.
    fov = _field_of_view(body, grid)
    body = _close_body(body, fov)
    lung_choices = _lungs(smooth, body, fov, grid, settings)
    bone = _bone(grid, settings)
    lung_slices = lung_choices[0].any(axis=(1, 2)) if lung_choices else np.zeros(grid.shape[0], bool)
    left_sign = float(np.sign(volume.direction[0, 0]) or 1.0)
    return Thorax(grid, body, fov, lung_choices, bone, _superior_is_up(lung_slices, volume), left_sign)


def work_grid(volume: Volume, settings: ThoraxSettings = ThoraxSettings()) -> WorkGrid:
    """The volume block-averaged (and block-maximised) in-plane to about ``settings.work_spacing_mm``."""
    hu = np.asarray(volume.hu, dtype=np.float32)
    sz, sy, sx = volume.spacing_zyx_mm
    nz, ny, nx = hu.shape
    # blocks of about work_spacing_mm, never larger than the image itself
    fy, fx = (min(max(1, round(float(settings.work_spacing_mm / s))), n) for s, n in ((sy, ny), (sx, nx)))
    # Crop to a multiple of the block, centred (the border is outside every mask brought back to the
    # full grid).
    cy, cx = (ny // fy) * fy, (nx // fx) * fx
    oy, ox = (ny - cy) // 2, (nx - cx) // 2
    blocks = hu[:, oy: oy + cy, ox: ox + cx].reshape(nz, cy // fy, fy, cx // fx, fx)
    wy, wx = sy * fy, sx * fx
    mean = blocks.mean(axis=(2, 4))
    smooth = ndi.gaussian_filter(mean, (0.0, settings.smooth_mm / wy, settings.smooth_mm / wx)) \
        if settings.smooth_mm > 0 else mean
    return WorkGrid((fy, fx), (oy, ox), (float(sz), float(wy), float(wx)), hu.shape,
                    smooth.astype(np.float32), blocks.max(axis=(2, 4)))


def _lungs(smooth: np.ndarray, body: np.ndarray, fov: np.ndarray, grid: WorkGrid,
           settings: ThoraxSettings) -> tuple[np.ndarray, ...]:
    """The lungs, strictest choice first: large air regions inside the body that do not hug its outline,
    then every large air region (a field of view that cuts the chest leaves a lung as a sliver along the
    body hull's chord, which the rim test takes for outside air)."""
    wy, wx = grid.spacing_zyx_mm[1:]
    lab, n = ndi.label((smooth < settings.air_hu) & body)
    if n == 0:
        return ()
    rim = body & (distance2d(body | ~fov[None], wy, wx) <= settings.rim_mm)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    on_rim = np.bincount(lab[rim], minlength=n + 1)
    big = sizes * grid.voxel_ml >= settings.min_lung_volume_ml
    big[0] = False
    strict = big & (on_rim <= settings.max_rim_fraction * sizes)
    choices = [sel for sel in (strict, big) if sel.any()]
    if strict.any() and (strict == big).all():
        choices = choices[:1]
    return tuple(np.isin(lab, np.flatnonzero(sel)) for sel in choices)


def _bone(grid: WorkGrid, settings: ThoraxSettings) -> np.ndarray:
    """Bone on the working grid: the connected parts above ``bone_hu`` of the block maximum (a 1-2 mm
    cortex survives a block maximum, not a block mean) that hold at least ``min_bone_ml`` of tissue thicker
    than one working voxel (spine, ribs, sternum; not a thin metal lead and its streaks, not a calcified
    plaque), with the marrow they enclose on a slice (holes up to ``max_marrow_mm2``): the cancellous bone
    of an osteoporotic vertebra reads 50-250 HU inside a brighter cortex."""
    bright = grid.brightest > settings.bone_hu
    thick = ndi.binary_opening(bright, structure=ndi.generate_binary_structure(3, 1)[1:2])
    lab, n = ndi.label(bright)
    if n == 0:
        return bright
    big = np.flatnonzero(np.bincount(lab[thick], minlength=n + 1)[1:] * grid.voxel_ml >= settings.min_bone_ml)
    bone = np.isin(lab, big + 1)
    pixel_mm2 = grid.spacing_zyx_mm[1] * grid.spacing_zyx_mm[2]
    for z in np.flatnonzero(bone.any(axis=(1, 2))):
        holes, n_holes = ndi.label(ndi.binary_fill_holes(bone[z]) & ~bone[z])
        if n_holes:
            small = np.flatnonzero(np.bincount(holes.ravel())[1:] * pixel_mm2 <= settings.max_marrow_mm2) + 1
            bone[z] |= np.isin(holes, small)
    return bone


def _field_of_view(body: np.ndarray, grid: WorkGrid) -> np.ndarray:
    """The reconstructed field of view on the working grid (2-D bool): the image's inscribed circle, the
    usual reconstruction circle of CT (pixels outside it are padding), or the whole image when the body
    reaches beyond that circle (a scanner that reconstructs the full square)."""
    ny, nx = grid.full_shape[1:]
    fy, fx = grid.factor_yx
    oy, ox = grid.offset_yx
    h, w = body.shape[1:]
    yy = (oy + np.arange(h) * fy + (fy - 1) / 2.0 - (ny - 1) / 2.0)[:, None]
    xx = (ox + np.arange(w) * fx + (fx - 1) / 2.0 - (nx - 1) / 2.0)[None, :]
    radius = min(ny, nx) / 2.0
    disc = yy**2 + xx**2 <= radius**2
    outside_by = yy**2 + xx**2 > (radius + 2.0 * max(fy, fx)) ** 2
    if np.any(body & outside_by[None]):
        return np.ones((h, w), dtype=bool)
    return disc


def _close_body(body: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """Per slice, the convex hull of the body plus the parts of the field of view that the body encloses
    where it leaves it.

    A body cross-section is close to convex. A part of the field of view outside the body's hull lies
    either beyond the body's outline (outside air: the hull's boundary there is the outline itself, made
    of body pixels) or beyond a chord of the hull that joins two points where the body leaves the field of
    view, with no body along it (a lung that the field of view cuts: what the chord crosses is a cavity,
    not the outline). In the second case the body went out of the field of view at both ends, so by
    convexity that whole part is inside the body.
    """
    out = np.zeros_like(body)
    near = np.ones((3, 3), bool)
    for z in np.flatnonzero(body.any(axis=(1, 2))):
        b = body[z]
        hull = hull2d(b)
        out[z] = hull
        lab, n = ndi.label(fov & ~hull)
        if n == 0:
            continue
        # The hull's boundary pixels next to each outside part, and how many of them touch the body: the
        # hull's pixel staircase runs up to one pixel outside a convex outline, so "touch" means within one
        # pixel (a lung's chord runs through air, many pixels from any body pixel).
        grown = ndi.grey_dilation(lab, size=(3, 3))
        border = hull & (grown > 0)
        total = np.bincount(grown[border], minlength=n + 1)
        on_body = np.bincount(grown[border & ndi.binary_dilation(b, structure=near)], minlength=n + 1)
        cavity = np.flatnonzero((total > 0) & (on_body < 0.5 * total))
        cavity = cavity[cavity > 0]
        if cavity.size:
            out[z] |= np.isin(lab, cavity)
    return out


def _superior_is_up(lung_slices: np.ndarray, volume: Volume) -> bool:
    """True when increasing slice index goes towards the head (from the direction cosines; LPS +z = head)."""
    z_axis = np.asarray(volume.direction)[:, 2]
    if abs(z_axis[2]) > 0.5:
        return bool(z_axis[2] > 0)
    # Unusual orientation: assume the lungs reach the top of the scan.
    return bool(lung_slices[-1] or not lung_slices[0])
