"""Heart geometry of the phantom: four chambers, the aortic and pulmonary roots, epicardial fat, and where
the heart sits in the chest.

The heart has its own frame: ``e_long`` from the centre of the atrioventricular (AV) plane (``base``) to the
apex, pointing anterior, left and inferior (35-60 degrees towards the left of straight anterior, 30-50
degrees below the axial plane), ``e_a`` the anterior surface normal and ``e_b = e_long x e_a``. Chambers are
ellipsoids whose smooth union is the epicardial (outer myocardial) surface: the left ventricle a prolate
ellipsoid forming the apex (outer diameter 55-70 mm, base-apex 80-95 mm, wall 8-12 mm), the right ventricle
a thin-walled (3-5 mm) crescent wrapping it anteriorly and to the right, the left atrium posterior and
superior (the most posterior chamber, in front of the oesophagus), the right atrium to the right, tall,
from the superior to the inferior vena cava at the diaphragm (it forms the right heart border), the left
atrial appendage, and the right ventricular outflow tract up to the pulmonary valve; the aortic root with
its three sinuses of Valsalva sits between them (Gray's Anatomy, 42nd ed.; adult chamber sizes: Lang et
al., J Am Soc Echocardiogr 2015). The creases between the ventricles (interventricular grooves) and between
ventricles and atria (AV groove) are where the coronaries run (:mod:`cacscore.phantom.coronaries`).

Epicardial fat fills the space between the myocardium and the pericardium: a per-patient base thickness
(0.3-15 mm; thicker over the right ventricle and the apex, thinnest over the lateral left ventricle; e.g.
Iacobellis, Nat Rev Endocrinol 2015) and a sleeve round every coronary (the groove fat). On unenhanced CT
blood and myocardium differ by only 5-10 HU, so the outline and the fat are what the image shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cacscore.phantom.patient import Patient
from cacscore.phantom.shapes import Ellipsoid3, smin

#: Blend width (mm) of the smooth union of the chambers' outer walls.
MYO_BLEND_MM: float = 4.0
#: Blend width (mm) of the pericardial sac round myocardium, fat and coronary sleeves.
SAC_BLEND_MM: float = 9.0
#: Fat (mm) between the diaphragmatic surface of the heart and the diaphragm.
FLOOR_FAT_MM: float = 1.5
#: Thickness (mm) of the inferior ventricular walls where the heart rests on the diaphragm.
FLOOR_WALL_MM: float = 6.0
#: Room (mm) between the heart's back and the front of the spine: oesophagus, descending aorta, azygos.
RETROCARDIAC_MM: float = 10.0

_LEFT = np.array([1.0, 0.0, 0.0])
_RIGHT = -_LEFT
_POST = np.array([0.0, 1.0, 0.0])
_ANT = -_POST
_UP = np.array([0.0, 0.0, 1.0])


@dataclass
class Chamber:
    """A heart chamber: its outer (epicardial) ellipsoid and wall thickness; the cavity is the ellipsoid
    shrunk by the wall (the right ventricle's cavity also stops at the septum)."""

    name: str
    outer: Ellipsoid3
    wall_mm: float


@dataclass
class HeartGeometry:
    """Pose, chambers, roots, fat and coronary tree of the heart (world mm)."""

    base: np.ndarray  # centre of the AV plane
    frame: np.ndarray  # rows e_long, e_a, e_b
    length_mm: float  # base to apex
    lv_radius_mm: float
    chambers: dict[str, Chamber]
    root_centre: np.ndarray
    root_radius_mm: float
    root_axis: np.ndarray
    sinuses: dict[str, np.ndarray]  # sinus of Valsalva centres: "left", "right", "non"
    pv_centre: np.ndarray  # pulmonary valve
    pv_radius_mm: float
    epicardial_fat_mm: float
    cleft_fat_mm: float  # concavities of the heart's outline narrower than this fill with fat
    pericardium_mm: float
    root_fat_mm: float  # the fat collar round the aortic root (between it and the atria, outflow tract)
    floor_z: float = -np.inf  # the diaphragm under the heart (world z, mm): the heart rests flat on it
    # where the collar is missing: (unit direction across the root's axis, half-angle in rad) per gap
    root_fat_gaps: list[tuple[np.ndarray, float]] = field(default_factory=list)
    branches: list = field(default_factory=list)  # coronaries.Branch
    veins: list = field(default_factory=list)  # coronaries.Branch: the cardiac veins beside the arteries
    coronary_fat: dict[str, tuple[float, float]] = field(default_factory=dict)  # artery: (gap, sleeve) mm

    @property
    def centre(self) -> np.ndarray:
        """Centre of the left ventricle (world mm): the heart's reference point."""
        return self.chambers["LV"].outer.centre

    @property
    def lv_cavity_centre(self) -> np.ndarray:
        """A point deep in the left ventricular blood pool (world mm)."""
        return self.chambers["LV"].outer.centre - self.frame[0] * 0.05 * self.length_mm

    def translate(self, shift: np.ndarray) -> None:
        """Move the whole heart (chambers, roots, coronaries) by ``shift`` (mm)."""
        shift = np.asarray(shift, dtype=float)
        self.base = self.base + shift
        for ch in self.chambers.values():
            ch.outer.centre = ch.outer.centre + shift
        self.root_centre = self.root_centre + shift
        self.pv_centre = self.pv_centre + shift
        self.sinuses = {k: v + shift for k, v in self.sinuses.items()}
        self.floor_z += float(shift[2])
        for br in self.branches + self.veins:
            br.points = br.points + shift

    def scale(self, factor: float) -> None:
        """Shrink or grow the heart about its base (before the coronaries are laid)."""
        f = float(factor)
        for ch in self.chambers.values():
            ch.outer.centre = self.base + f * (ch.outer.centre - self.base)
            ch.outer.semi_mm = ch.outer.semi_mm * f
            ch.wall_mm *= f
        self.root_centre = self.base + f * (self.root_centre - self.base)
        self.pv_centre = self.base + f * (self.pv_centre - self.base)
        self.sinuses = {k: self.base + f * (v - self.base) for k, v in self.sinuses.items()}
        self.root_radius_mm *= f
        self.pv_radius_mm *= f
        self.length_mm *= f
        self.lv_radius_mm *= f

    # --- signed distances (mm) at broadcastable coordinates --------------------------------------------
    def floor_cut(self, d, z, above_mm: float = 0.0):
        """``d`` cut flat ``above_mm`` over the diaphragm (the heart's diaphragmatic surface)."""
        if not np.isfinite(self.floor_z):
            return d
        return np.maximum(d, np.float32(self.floor_z + above_mm) - z)

    def ventricles_sdf(self, x, y, z):
        """Outer surface of the two ventricles."""
        ch = self.chambers
        d = smin(ch["LV"].outer.sdf(x, y, z), ch["RV"].outer.sdf(x, y, z), MYO_BLEND_MM)
        return self.floor_cut(d, z, FLOOR_FAT_MM)

    def myocardium_sdf(self, x, y, z):
        """Epicardial surface: the smooth union of every chamber's outer wall."""
        d = None
        for ch in self.chambers.values():
            di = ch.outer.sdf(x, y, z)
            d = di if d is None else smin(d, di, MYO_BLEND_MM)
        return self.floor_cut(d, z, FLOOR_FAT_MM)

    @property
    def valve_hinge(self) -> np.ndarray:
        """Centre (mm) of the aortic valve's hinge plane (the annulus), 0.2 root radii below the root's
        centre along its axis."""
        return self.root_centre - self.root_axis * 0.2 * self.root_radius_mm

    def root_sdf(self, x, y, z):
        """Aortic root: a central ball and the three sinus bulges."""
        r = self.root_radius_mm
        c = self.root_centre
        d = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) - np.float32(0.8 * r)
        for s in self.sinuses.values():
            ds = np.sqrt((x - s[0]) ** 2 + (y - s[1]) ** 2 + (z - s[2]) ** 2) - np.float32(0.6 * r)
            d = smin(d, ds, 3.0)
        return d

    def root_fat_at(self, x, y, z):
        """Thickness (mm) of the root's fat collar at a point, by its bearing round the root's axis: 0 in
        the gaps where the atria or the outflow tract press on the root, ``root_fat_mm`` elsewhere, with a
        0.15 rad (about 9 degrees) ramp between."""
        c, a = self.root_centre, self.root_axis
        v = [x - np.float32(c[0]), y - np.float32(c[1]), z - np.float32(c[2])]
        along = v[0] * a[0] + v[1] * a[1] + v[2] * a[2]
        v = [v[i] - along * np.float32(a[i]) for i in range(3)]
        norm = np.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2) + np.float32(1e-6)
        keep = np.float32(1.0)
        for d, half in self.root_fat_gaps:
            bearing = np.arccos(np.clip((v[0] * d[0] + v[1] * d[1] + v[2] * d[2]) / norm, -1.0, 1.0))
            keep = keep * np.clip((bearing - np.float32(half)) / np.float32(0.15), 0.0, 1.0)
        return np.float32(self.root_fat_mm) * keep

    def fat_mm(self, x, y, z):
        """Epicardial fat thickness (mm) over the myocardium at a point: thicker over the right ventricle
        and the apex, thinner over the lateral left ventricle."""
        e_long, _, _ = self.frame
        dx, dy, dz = x - np.float32(self.base[0]), y - np.float32(self.base[1]), z - np.float32(self.base[2])
        u = (dx * e_long[0] + dy * e_long[1] + dz * e_long[2]) / np.float32(self.length_mm)
        rv = self.chambers["RV"].outer.axes[1]
        c = self.chambers["LV"].outer.centre - self.base
        side = (dx - c[0]) * rv[0] + (dy - c[1]) * rv[1] + (dz - c[2]) * rv[2]
        side = np.clip(side / np.float32(self.lv_radius_mm), -1, 1)
        apex = np.clip((u - 0.7) / 0.3, 0, 1)
        return np.float32(self.epicardial_fat_mm) * (0.75 + 0.55 * side + 0.6 * apex)

    def surface_cloud(self, n: int = 300) -> np.ndarray:
        """Points (N, 3) on every chamber's outer ellipsoid, grown by the fat and pericardium."""
        g = self.epicardial_fat_mm + self.pericardium_mm + 1.0
        k = np.arange(n) + 0.5
        phi = np.arccos(1 - 2 * k / n)
        th = np.pi * (1 + 5**0.5) * k
        unit = np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], axis=1)
        pts = []
        for ch in self.chambers.values():
            e = ch.outer.grown(g)
            pts.append(e.centre + (unit * e.semi_mm) @ e.axes)
        pts = np.vstack(pts)
        pts[:, 2] = np.maximum(pts[:, 2], self.floor_z)
        return pts


def build_heart(rng: np.random.Generator, size: float, adiposity: float) -> HeartGeometry:
    """Draw a heart's pose, chamber sizes and fat at the origin (``base`` = 0); ``size`` scales it, and
    the epicardial fat grows with the patient's ``adiposity`` (0..1; Iacobellis 2015: epicardial fat
    thickness tracks visceral fat)."""
    frame = _pose(rng)
    length = rng.uniform(85, 100) * size
    r_lv = rng.uniform(30, 36) * size
    ventricles = _ventricles(rng, frame, length, r_lv)
    atria = _atria(rng, frame, length, r_lv)
    r_root = float(rng.uniform(13.0, 16.5) * np.sqrt(size))
    root, root_axis, sinuses = _aortic_root(frame, length, r_lv, r_root)
    pv = root + root_axis * 0.9 * r_root + _ANT * 0.9 * r_root + _LEFT * 0.9 * r_root
    r_pv = float(rng.uniform(11.0, 13.5) * np.sqrt(size))
    rvot_lo = frame[1] * 0.55 * r_lv + _LEFT * 0.15 * r_lv
    rvot = Ellipsoid3(
        (rvot_lo + pv) / 2,
        _axes_along(pv - rvot_lo),
        np.array([np.linalg.norm(pv - rvot_lo) / 2 + 4, r_pv + 3, r_pv + 3]),
    )
    fat = float(np.clip(rng.lognormal(np.log(1.2 + 5.0 * adiposity), 0.5), 0.3, 15.0))
    gaps = _root_fat_gaps(rng.spawn(1)[0], root, root_axis, sinuses["non"], pv)
    return HeartGeometry(
        base=np.zeros(3),
        frame=frame,
        length_mm=float(length),
        lv_radius_mm=float(r_lv),
        chambers={
            "LV": Chamber("LV", ventricles[0], float(rng.uniform(8, 12) * size)),
            "RV": Chamber("RV", ventricles[1], float(rng.uniform(3, 5))),
            "LA": Chamber("LA", atria[0], 2.5),
            "RA": Chamber("RA", atria[1], 2.5),
            "LAA": Chamber("LAA", atria[2], 1.5),
            "RVOT": Chamber("RVOT", rvot, 3.0),
        },
        root_centre=root,
        root_radius_mm=r_root,
        root_axis=root_axis,
        sinuses=sinuses,
        pv_centre=pv,
        pv_radius_mm=r_pv,
        epicardial_fat_mm=fat,
        cleft_fat_mm=float(np.clip(1.2 * fat + rng.uniform(2, 5), 3, 12)),
        pericardium_mm=float(rng.uniform(1.0, 2.0)),
        root_fat_mm=float(rng.uniform(1.5, 3.5) + 0.3 * fat),
        root_fat_gaps=gaps,
    )


def _root_fat_gaps(rng, root, axis, non_sinus, pv) -> list[tuple[np.ndarray, float]]:
    """Where the root's fat collar is broken (lung1 of ../shared, slices 12-14: the ring is whole round the
    left and right sinuses, where the coronaries leave, and missing where the atria lie against the
    non-coronary sinus and, in some patients, where the outflow tract presses on the root's front-left).
    ``rng`` is a child of the heart's generator, so that the gaps leave its other draws as they were."""
    gaps = []
    for toward, chance, lo, hi in ((non_sinus, 0.85, 0.3, 1.0), (pv, 0.5, 0.2, 0.7)):
        d = np.asarray(toward, float) - root
        d = d - (d @ axis) * axis
        if rng.random() < chance:
            gaps.append((_unit(d), float(rng.uniform(lo, hi))))
    return gaps


def _pose(rng: np.random.Generator) -> np.ndarray:
    """The heart's frame (rows e_long, e_a, e_b): long axis anterior, left and inferior."""
    azimuth = np.deg2rad(rng.uniform(35, 60))
    elevation = np.deg2rad(rng.uniform(30, 50))
    e_long = np.array(
        [np.cos(elevation) * np.sin(azimuth), -np.cos(elevation) * np.cos(azimuth), -np.sin(elevation)]
    )
    e_a = _unit(_ANT - (_ANT @ e_long) * e_long)
    return np.stack([e_long, e_a, np.cross(e_long, e_a)])


def _right_of(frame: np.ndarray) -> np.ndarray:
    """The patient's right projected onto the heart's short-axis plane."""
    e_long = frame[0]
    return _unit(_RIGHT - (_RIGHT @ e_long) * e_long)


def _ventricles(rng, frame: np.ndarray, length: float, r_lv: float) -> tuple[Ellipsoid3, Ellipsoid3]:
    """Left ventricle (forms the apex) and the right ventricle's crescent in front of it and to the right."""
    e_long, e_a, _ = frame
    lv = Ellipsoid3(e_long * 0.45 * length, frame, np.array([0.58 * length, r_lv, 0.93 * r_lv]))
    d_rv = _unit(0.8 * _right_of(frame) + 0.6 * e_a)
    rv = Ellipsoid3(
        e_long * 0.28 * length + d_rv * 0.6 * r_lv,
        np.stack([e_long, d_rv, np.cross(e_long, d_rv)]),
        np.array([0.47 * length, 0.95 * r_lv, 1.2 * r_lv]) * rng.uniform(0.92, 1.08),
    )
    return lv, rv


def _atria(rng, frame: np.ndarray, length: float, r_lv: float) -> tuple[Ellipsoid3, Ellipsoid3, Ellipsoid3]:
    """Left atrium (posterior, superior), right atrium (tall, to the right), left atrial appendage."""
    e_long = frame[0]
    eye = np.eye(3)
    la = Ellipsoid3(
        -e_long * 0.1 * length + _LEFT * 0.15 * r_lv + _POST * 0.12 * r_lv + _UP * 0.2 * r_lv,
        eye,
        np.array([1.05, 0.5, 0.7]) * r_lv * rng.uniform(0.9, 1.1),
    )
    ra = Ellipsoid3(
        _RIGHT * 0.85 * r_lv + _ANT * 0.05 * r_lv - _UP * 0.35 * r_lv,
        eye,
        np.array([0.8, 0.7, 1.15]) * r_lv * rng.uniform(0.9, 1.1),
    )
    laa = Ellipsoid3(
        -e_long * 0.05 * length + _LEFT * 0.7 * r_lv + _UP * 0.35 * r_lv,
        _axes_along(_LEFT + 0.5 * _ANT + 0.2 * _UP),
        np.array([0.45, 0.25, 0.25]) * r_lv,
    )
    return la, ra, laa


def _aortic_root(frame, length: float, r_lv: float, r_root: float):
    """Centre and axis of the aortic root, and the centres of its three sinuses of Valsalva (the right
    faces forwards and right, the left leftwards and back, the non-coronary backwards)."""
    e_long, e_a, _ = frame
    root = -e_long * 0.10 * length + e_a * 0.12 * r_lv + _right_of(frame) * 0.1 * r_lv
    axis = _unit(_UP + 0.45 * _ANT + 0.35 * _RIGHT)
    sinuses = {}
    for k, d in (
        ("right", _unit(0.8 * _ANT + 0.6 * _RIGHT)),
        ("left", _unit(0.9 * _LEFT + 0.45 * _POST)),
        ("non", _unit(0.9 * _POST + 0.45 * _RIGHT)),
    ):
        sinuses[k] = root + _unit(d - (d @ axis) * axis) * 0.45 * r_root
    return root, axis, sinuses


def _axes_along(direction: np.ndarray) -> np.ndarray:
    """Orthonormal axes (rows) with the first along ``direction`` and the second horizontal."""
    d = _unit(direction)
    side = _unit(np.cross(d, _UP))
    return np.stack([d, side, np.cross(d, side)])


def place_heart(rng: np.random.Generator, p: Patient, heart: HeartGeometry) -> float:
    """Move ``heart`` into the chest of ``p``.

    Its ventricular centre goes to z = 0, the middle of its width 5 mm right to 15 mm left of the midline
    (on the real scans: 0 and 16 mm left), its front against the anterior chest wall behind 0-15 mm of
    retrosternal fat (touching it in ~40 % of patients), its back (the left atrium) at least
    :data:`RETROCARDIAC_MM` in front of the spine, where the oesophagus and the descending aorta run. A
    heart too deep for the chest moves against the chest wall and, if that is not enough, shrinks (4 % a
    step). Returns the retrosternal gap (mm).
    """
    gap = float(rng.uniform(0, 2) if rng.random() < 0.4 else rng.uniform(2, 15))
    x_target = float(rng.uniform(-5, 15))
    for _ in range(12):
        shift = _fit(p, heart, gap, x_target)
        cloud = heart.surface_cloud() + shift
        if _retrocardiac_clearance(p, cloud) >= RETROCARDIAC_MM:
            break
        # A deep heart in a shallow chest: first against the chest wall, then smaller.
        if gap > 1.0:
            gap = max(gap - 4.0, 1.0)
        else:
            heart.scale(0.96)
    # The heart rests on the diaphragm: its lowest 4-10 mm are flattened against it.
    heart.floor_z = float(cloud[:, 2].min() + rng.uniform(4, 10) - shift[2])
    heart.translate(shift)
    return gap


def _fit(p: Patient, heart: HeartGeometry, gap: float, x_target: float) -> np.ndarray:
    """The shift that puts the heart's front ``gap`` mm behind the anterior chest wall."""
    cloud = heart.surface_cloud()
    mid_x = 0.5 * (cloud[:, 0].min() + cloud[:, 0].max())
    shift = np.array([x_target - mid_x, 0.0, -heart.centre[2]])
    pts = cloud + shift
    # Clearance grows as the heart moves back until its back meets the posterior wall: bisect on the
    # front of the heart only (the band within 25 mm of its most anterior point).
    pts = pts[pts[:, 1] < pts[:, 1].min() + 25.0]

    def clearance(dy: float) -> float:
        q = pts + np.array([0.0, dy, 0.0])
        theta = np.arctan2(q[:, 1], q[:, 0])
        r = np.hypot(q[:, 0], q[:, 1])
        return float(np.min(p.cavity_radius(theta, p.level_at(q[:, 2])) - r))

    lo, hi = -150.0, 60.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if clearance(mid) < gap:
            lo = mid
        else:
            hi = mid
    shift[1] = hi
    return shift


def _retrocardiac_clearance(p: Patient, cloud: np.ndarray) -> float:
    """Smallest distance (mm) from the heart's back to the front of the spine, over the points in front of
    the spine and the descending aorta (|x| < body half-width + 30 mm)."""
    level = p.level_at(cloud[:, 2])
    w, d = p.body_semi_mm(level)
    front = p.spine_y_mm(level) - d
    near = np.abs(cloud[:, 0]) < w + 30
    return float(np.min(front[near] - cloud[near, 1])) if near.any() else np.inf


def heart_size(p: Patient, rng: np.random.Generator) -> float:
    """Heart scale from the size of the chest (cavity depth and width at the heart), +-8 %: a unit heart
    (about 133 mm wide) in a 255 mm wide chest gives a cardiothoracic ratio of ~0.5."""
    depth = p.cavity_semi_y_ant_mm + p.cavity_semi_y_post_mm
    width = 2 * p.cavity_semi_x_mm
    return float(0.5 * (depth / 165.0 + width / 255.0) * rng.uniform(0.92, 1.08))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
