"""Non-coronary calcium and other bright look-alikes: what they are and where the phantom puts them.

Every voxel >= 130 HU that is not coronary calcium carries a :class:`LookAlike` code naming what it is.
Bone and cartilage come from the anatomy's tissue map (:mod:`cacscore.phantom.truth`); the small dense
objects planned here are rendered like lesions (supersampled, exact partial volume):

- aortic wall calcification: curvilinear intimal plaques on the ascending aorta, arch, descending and
  abdominal aorta (blood on one side, periaortic fat on the other), most frequent in the arch and the
  descending aorta and rising steeply with age (e.g. Takasu et al., Atherosclerosis 2008: thoracic aortic
  calcium in ~30 % at 45-55 and ~80 % over 75);
- aortic valve calcification on the cusps in the aortic root (hinge to free edge, nodules to a heavily
  calcified valve), calcium in the wall of the root's sinuses next to the coronary ostia, and mitral
  annular calcification on the posterior annulus, next to the left circumflex (Allison et al., ATVB 2006;
  ~5-10 % over 60);
- calcified mediastinal and hilar lymph nodes and lung granulomas (healed granulomatous infection, common:
  calcified granulomas in ~5-20 % of chest CTs depending on region);
- abdominal calcium: liver and spleen granulomas, splenic artery wall calcification;
- metal: sternal wires after sternotomy or a pacemaker lead through the superior vena cava into the right
  heart (~8 % of patients);
- noise spikes.
Frequencies rise with age and with the coronary burden (calcium in one bed predicts it in others).

The calcium of the aortic wall, the aortic root, the aortic valve and the mitral annulus is drawn over the
same range of intrinsic density as coronary plaque (:data:`CALCIUM_DENSITY_HU`): it is the same mineral
(hydroxyapatite), and its density says nothing of where it lies. Real aortic valve and root calcium is as
dense as the densest coronary plaque or denser (lung1 of ../shared: 1040 HU at the root; real RCA plaques
peak at 390-1235 HU, issue 12). When the look-alikes stopped at 1100 HU intrinsic (peaks under 920 HU in
the image), only coronary candidates peaked above that in the phantom, and the shipped model v6 called
lung1's root calcium RCA on its peak (docs/model.md, "Peak HU").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from cacscore.phantom.anatomy import Thorax
from cacscore.phantom.grid import frame_from
from cacscore.phantom.imaging import Ellipsoid

#: Intrinsic density range (HU) of arterial, valvular and annular calcium: that of the coronary lesions
#: (cacscore.phantom.lesions, 330-1500 HU over the risk categories), so that density does not tell them apart.
CALCIUM_DENSITY_HU: tuple[float, float] = (300.0, 1500.0)


class LookAlike(IntEnum):
    """Codes of the look-alike volume: what a bright (>= 130 HU) voxel that is not coronary calcium is.

    Codes 1-7 keep their numbers from the first phantom. 5 (BONE_EDGE) is bone other than the named
    bones: the scapulae.
    """

    NONE = 0
    AORTIC_WALL = 1
    AORTIC_VALVE = 2
    MITRAL_ANNULUS = 3
    LYMPH_NODE = 4
    BONE_EDGE = 5
    NOISE_SPIKE = 6  # soft tissue or blood that reads >= 130 HU only through noise, and injected spikes
    METAL = 7
    COSTAL_CARTILAGE = 8  # calcified (or dense) costal cartilage, the xiphoid and sternal joints
    RIB = 9
    STERNUM = 10
    VERTEBRA = 11
    LUNG_GRANULOMA = 12
    ABDOMINAL = 13  # liver or spleen granuloma, splenic artery calcification


@dataclass
class CalcObject:
    """A lesion or look-alike: its ellipsoids, background HU, and what it is."""

    kind: str  # "lesion" or a LookAlike name
    ellipsoids: list[Ellipsoid]
    background_hu: float
    artery: object = None  # cacscore.labels.Artery for lesions
    info: dict = field(default_factory=dict)


def chain(
    points: np.ndarray,
    semi_along: float,
    semi_r: float,
    semi_c: float,
    density: float,
    rng: np.random.Generator,
    radial_dirs: np.ndarray,
) -> list[Ellipsoid]:
    """Ellipsoids along ``points``, each oriented by the local tangent and a radial direction."""
    out = []
    last_t = np.array([0.0, 0.0, 1.0])
    for i, p in enumerate(points):
        a = points[max(i - 1, 0)]
        b = points[min(i + 1, len(points) - 1)]
        t = b - a
        # Neighbours that coincide (a chain clipped at a tube's end) keep the last tangent.
        t = last_t = t / np.linalg.norm(t) if np.linalg.norm(t) > 1e-6 else last_t
        f = frame_from(t)
        radial = radial_dirs[i] - (radial_dirs[i] @ f[0]) * f[0]
        radial /= max(np.linalg.norm(radial), 1e-9)
        axes = np.stack([f[0], radial, np.cross(f[0], radial)])
        out.append(
            Ellipsoid(p, axes, np.array([semi_along, semi_r, semi_c]), density * rng.uniform(0.8, 1.0))
        )
    return out


def plan_lookalikes(
    rng: np.random.Generator, thorax: Thorax, category: int, z_range: tuple[float, float], metal: bool | None
) -> list[CalcObject]:
    """Look-alike objects for this patient (only those inside ``z_range`` matter)."""
    p = thorax.patient
    age = float(np.clip((p.age_years - 40) / 40, 0, 1))
    burden = 0.5 + 0.25 * category
    objs: list[CalcObject] = []
    objs += _aortic_wall(rng, thorax, age, burden, z_range)
    objs += _valves(rng, thorax, age, burden)
    objs += _nodes_and_granulomas(rng, thorax)
    objs += _abdominal(rng, thorax, age)
    if metal is None:
        metal = rng.random() < 0.08
    if metal:
        objs += _metal(rng, thorax, z_range)
    return objs


def _aortic_wall(rng, thorax: Thorax, age: float, burden: float, z_range) -> list[CalcObject]:
    aorta = thorax.mediastinum.tube("aorta")
    pts, radii = aorta.points, aorta.radii_mm
    inside = np.nonzero((pts[:, 2] > z_range[0] - 5) & (pts[:, 2] < z_range[1] + 5))[0]
    out = []
    if inside.size < 4:
        return out
    i_arch = int(np.argmax(pts[:, 2]))
    for _ in range(int(rng.poisson(0.3 + 3.0 * age * burden))):
        # Arch and descending aorta first: weight by distance past the ascending aorta.
        w = np.where(inside >= i_arch * 0.6, 3.0, 1.0)
        i = int(rng.choice(inside, p=w / w.sum()))
        t = pts[min(i + 1, len(pts) - 1)] - pts[max(i - 1, 0)]
        f = frame_from(t / max(np.linalg.norm(t), 1e-9))
        th = rng.uniform(0, 2 * np.pi)
        arc = rng.uniform(0.15, 1.2)  # radians of circumference
        along = rng.uniform(2, 12)
        n_arc = max(int(arc * radii[i] / 1.5), 1)
        n_al = max(int(along / 2.0), 1)
        r_wall = radii[i] + aorta.wall_mm * 0.4
        ell_pts, dirs = [], []
        for s in np.linspace(-along / 2, along / 2, n_al):
            j = int(np.clip(i + round(s / 1.5), 0, len(pts) - 1))
            for a in np.linspace(th - arc / 2, th + arc / 2, n_arc):
                d = np.cos(a) * f[1] + np.sin(a) * f[2]
                ell_pts.append(pts[j] + d * r_wall)
                dirs.append(d)
        ells = chain(
            np.array(ell_pts), 1.2, rng.uniform(0.4, 1.3), 1.4, rng.uniform(*CALCIUM_DENSITY_HU), rng,
            np.array(dirs),
        )
        out.append(
            CalcObject(
                LookAlike.AORTIC_WALL.name,
                ells,
                thorax.patient.hu.blood,
                info={"where": "aortic wall", "centre_xyz_mm": _round(pts[i])},
            )
        )
    return out


def _aortic_valve(rng, heart, blood: float, age: float) -> list[CalcObject]:
    """Calcified aortic valve cusps (1-3): calcium along each cusp's hinge on the annulus, some spreading
    towards its free edge, from a few nodules to a valve of several hundred mm3 at over 1000 HU (lung1 of
    ../shared: 0.8 ml at 1040 HU). Aortic valve sclerosis (thickening and
    calcification) is found in ~26 % of people over 65 (Stewart et al., J Am Coll Cardiol 1997) and shares
    the risk factors of coronary calcium; the phantom draws it more often with age and coronary burden, and
    heavier with age (severity up to 1.5: cusps as thick chains along most of the annulus, several hundred
    mm3 each, as in aortic stenosis, whose valve calcium scores reach thousands of Agatston units)."""
    f = frame_from(heart.root_axis)
    r = heart.root_radius_mm
    hinge = heart.valve_hinge
    severity = rng.uniform(0.1, 1.0) * (0.5 + age)
    base = rng.uniform(0, 2 * np.pi)
    out = []
    for j in range(int(rng.integers(1, 4))):
        mid = base + j * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3)
        span = rng.uniform(0.2, 0.5 + 1.3 * severity)  # radians of the annulus
        th = np.linspace(mid - span / 2, mid + span / 2, max(int(span * r / 1.5), 1))
        dirs = np.cos(th)[:, None] * f[1] + np.sin(th)[:, None] * f[2]
        # mostly on the hinge at the annulus (radius r: a crescent on the root's outline, as on lung1),
        # some towards the free edge
        radius = r * np.clip(1.0 - np.abs(rng.normal(0.0, 0.15, th.size)), 0.5, 1.0)
        points = hinge + dirs * radius[:, None] + heart.root_axis * rng.normal(0.0, 1.0, (th.size, 1))
        semi_r = rng.uniform(0.8, 1.0 + 1.0 * severity)
        semi_c = rng.uniform(1.0, 1.5 + 2.0 * severity)
        density = rng.uniform(400, 800 + 700 * min(severity, 1.0))  # up to CALCIUM_DENSITY_HU's top
        ells = chain(points, 1.5, semi_r, semi_c, density, rng, dirs)
        out.append(CalcObject(LookAlike.AORTIC_VALVE.name, ells, blood,
                              info={"where": "aortic valve", "centre_xyz_mm": _round(points.mean(axis=0))}))
    return out


def _aortic_root_wall(rng, heart, blood: float) -> list[CalcObject]:
    """Curvilinear intimal calcium in the wall of the aortic root's sinuses (1-2 plaques), blood inside
    and the fat collar or atria outside, at the level of the coronary ostia: next to where the left main
    and the RCA leave the root, the look-alike a reader must tell from ostial coronary calcium. From a
    fleck to a crescent of a third of the root's outline, up to 3 mm thick and 2-15 mm tall along the
    root (lung1 of ../shared: a crescent over slices 12-14, 0.8 ml at 1040 HU), between 0.3 r below and
    0.6 r above the root's centre."""
    f = frame_from(heart.root_axis)
    r = heart.root_radius_mm
    out = []
    for _ in range(int(rng.integers(1, 3))):
        height = rng.uniform(2.0, min(15.0, 0.9 * r))
        level = rng.uniform(-0.3 * r + height / 2, 0.6 * r - height / 2)
        mid, span = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 2.0)
        th = np.linspace(mid - span / 2, mid + span / 2, max(int(span * r / 1.5), 1))
        dirs = np.cos(th)[:, None] * f[1] + np.sin(th)[:, None] * f[2]
        semi_r, semi_c = rng.uniform(0.5, 1.5), rng.uniform(1.0, 2.0)
        density = rng.uniform(*CALCIUM_DENSITY_HU)
        reach = max(height / 2 - semi_c, 0.0)  # rows at most semi_c apart, so that the band is whole
        ells = []
        for h in np.linspace(level - reach, level + reach, int(np.ceil(2 * reach / semi_c)) + 1):
            ells += chain(heart.root_centre + heart.root_axis * h + dirs * r, 1.2, semi_r, semi_c, density,
                          rng, dirs)
        centre = np.mean([e.centre for e in ells], axis=0)
        where = {"where": "aortic root wall", "centre_xyz_mm": _round(centre)}
        out.append(CalcObject(LookAlike.AORTIC_WALL.name, ells, blood, info=where))
    return out


def _valves(rng, thorax: Thorax, age: float, burden: float) -> list[CalcObject]:
    heart = thorax.heart
    out = []
    blood = thorax.patient.hu.blood
    if rng.random() < 0.4 * age * burden + 0.03:
        out += _aortic_valve(rng, heart, blood, age)
    if rng.random() < 0.3 * age * burden + 0.02:
        out += _aortic_root_wall(rng, heart, blood)
    if rng.random() < 0.15 * age * burden + 0.01:
        # Posterior mitral annulus: in the AV plane, behind the mitral valve's centre, next to the LCX.
        e_long = heart.frame[0]
        la = heart.chambers["LA"].outer.centre
        back = la - heart.base
        back = back - (back @ e_long) * e_long
        back /= max(np.linalg.norm(back), 1e-9)
        centre = heart.base + back * 0.35 * heart.lv_radius_mm + e_long * 0.03 * heart.length_mm
        side = np.cross(e_long, back)
        ring_r = rng.uniform(12, 16)
        span = rng.uniform(0.8, 2.6)
        th = np.linspace(-span / 2, span / 2, max(int(span * ring_r / 2.0), 2))
        dirs = np.cos(th)[:, None] * back + np.sin(th)[:, None] * side
        ells = chain(
            centre + dirs * ring_r,
            1.3,
            rng.uniform(1.0, 2.2),
            rng.uniform(1.0, 2.0),
            rng.uniform(*CALCIUM_DENSITY_HU),
            rng,
            dirs,
        )
        out.append(
            CalcObject(
                LookAlike.MITRAL_ANNULUS.name,
                ells,
                thorax.patient.hu.myocardium,
                info={"where": "mitral annulus", "centre_xyz_mm": _round(centre + back * ring_r)},
            )
        )
    return out


def _nodes_and_granulomas(rng, thorax: Thorax) -> list[CalcObject]:
    med = thorax.mediastinum
    out = []
    anchors = [
        med.carina + np.array([0, 12, -18]),
        med.hila["left"],
        med.hila["right"],
        med.carina + np.array([-15, -5, 5]),
    ]
    for _ in range(int(rng.random() < 0.3) * int(rng.integers(1, 3))):
        c = anchors[int(rng.integers(len(anchors)))] + rng.uniform(-8, 8, 3)
        ells = chain(
            c[None],
            rng.uniform(1.2, 3.5),
            rng.uniform(1.2, 3.0),
            rng.uniform(1.2, 3.0),
            rng.uniform(250, 900),
            rng,
            np.array([[1.0, 0, 0]]),
        )
        out.append(
            CalcObject(
                LookAlike.LYMPH_NODE.name,
                ells,
                thorax.patient.hu.fat,
                info={"where": "mediastinal or hilar lymph node", "centre_xyz_mm": _round(c)},
            )
        )
    p = thorax.patient
    for _ in range(int(rng.random() < 0.2) * int(rng.integers(1, 4))):
        # A point well inside one lung: between the heart and the lateral chest wall, any height.
        side = rng.choice([-1.0, 1.0])
        level = rng.uniform(2.0, 10.0)
        theta = np.pi / 2 - side * rng.uniform(0.6, 2.2)
        r = float(p.cavity_radius(np.array(theta), level)) * rng.uniform(0.55, 0.85)
        c = np.array([r * np.cos(theta), r * np.sin(theta), float(p.z_at(level))])
        rad = rng.uniform(1.0, 3.5)
        ells = chain(
            c[None],
            rad,
            rad * rng.uniform(0.7, 1.0),
            rad * rng.uniform(0.7, 1.0),
            rng.uniform(300, 1200),
            rng,
            np.array([[0.0, 0, 1.0]]),
        )
        out.append(
            CalcObject(
                LookAlike.LUNG_GRANULOMA.name,
                ells,
                p.hu.lung,
                info={"where": "calcified lung granuloma", "centre_xyz_mm": _round(c)},
            )
        )
    return out


def _abdominal(rng, thorax: Thorax, age: float) -> list[CalcObject]:
    ab = thorax.abdomen
    p = thorax.patient
    out = []
    if rng.random() < 0.15:
        c = np.array(
            [-0.5 * p.cavity_semi_x_mm, rng.uniform(-20, 30), ab.right_dome[2] - rng.uniform(15, 60)]
        )
        c = c + rng.uniform(-15, 15, 3)
        rad = rng.uniform(1.0, 3.0)
        ells = chain(c[None], rad, rad, rad * 0.8, rng.uniform(300, 1000), rng, np.array([[0.0, 0, 1.0]]))
        out.append(
            CalcObject(
                LookAlike.ABDOMINAL.name,
                ells,
                p.hu.liver,
                info={"where": "liver granuloma", "centre_xyz_mm": _round(c)},
            )
        )
    if rng.random() < 0.1 + 0.3 * age:
        # Splenic artery: tortuous, from near the spine towards the splenic hilum, wall calcified in rings.
        sp_c, _ = ab.spleen
        start = np.array([5.0, float(p.spine_y_mm(11.5)) - 25, sp_c[2] - 25])
        end = sp_c + np.array([-20.0, -10.0, -5.0])
        n = 10
        t = np.linspace(0, 1, n)[:, None]
        path = start + (end - start) * t
        path[:, 2] += 6 * np.sin(t[:, 0] * 3 * np.pi)
        keep = path[rng.random(n) < 0.5]
        if len(keep):
            ells = chain(
                keep, 1.0, 0.6, 2.0, rng.uniform(300, 900), rng, np.tile([0, 0, 1.0], (len(keep), 1))
            )
            out.append(
                CalcObject(
                    LookAlike.ABDOMINAL.name,
                    ells,
                    p.hu.fat,
                    info={"where": "splenic artery", "centre_xyz_mm": _round(keep.mean(axis=0))},
                )
            )
    return out


def _metal(rng, thorax: Thorax, z_range) -> list[CalcObject]:
    p, heart = thorax.patient, thorax.heart
    st = thorax.ribcage.sternum
    z0, z1 = z_range
    out = []
    if rng.random() < 0.6:
        for zc in np.linspace(
            max(z0 + 10, st.z_xiphisternal), min(z1 - 10, st.z_notch), int(rng.integers(3, 6))
        ):
            y_back = -float(p.cavity_radius(np.array(-np.pi / 2), p.level_at(zc)))
            t = st.thick_mm(zc)
            w = max(st.width_mm(zc), 20.0) / 2 + 1
            th = np.linspace(0, 2 * np.pi, 24, endpoint=False)
            pts = np.stack(
                [w * np.cos(th), y_back - t / 2 + (t / 2 + 1) * np.sin(th), np.full(th.size, zc)], axis=1
            )
            dirs = np.stack([np.cos(th), np.sin(th), np.zeros_like(th)], axis=1)
            out.append(
                CalcObject(
                    LookAlike.METAL.name,
                    chain(pts, 2.5, 0.5, 0.5, 2800.0, rng, dirs),
                    p.hu.fat,
                    info={
                        "where": "sternal wire",
                        "centre_xyz_mm": [0.0, round(y_back, 1), round(float(zc), 1)],
                    },
                )
            )
    else:
        svc = thorax.mediastinum.tube("superior vena cava")
        ra = heart.chambers["RA"].outer.centre
        rv = heart.chambers["RV"].outer.centre + heart.frame[0] * 0.3 * heart.length_mm
        top = svc.points[0].copy()
        top[2] = z1 + 5
        pts = np.vstack(
            [
                np.linspace(top, svc.points[-1], 30),
                np.linspace(svc.points[-1], ra, 10),
                np.linspace(ra, rv, 25),
            ]
        )
        dirs = np.tile([1.0, 0.0, 0.0], (len(pts), 1))
        out.append(
            CalcObject(
                LookAlike.METAL.name,
                chain(pts, 1.2, 0.8, 0.8, 2800.0, rng, dirs),
                p.hu.blood,
                info={"where": "pacemaker lead", "centre_xyz_mm": _round(ra)},
            )
        )
    return out


def _round(v) -> list[float]:
    return [round(float(c), 1) for c in v]
