"""Where the phantom puts the aortic valve's and the aortic root's calcium (cacscore.phantom.lookalikes),
checked against the anatomy: a cusp hinges on the annulus, the root's circle of radius r, and its calcium
lies on the hinge or on the cusp towards the root's axis, never outside the root; root-wall calcium lies in
the wall, at radius r, between the cusps and the sinotubular junction. Both are as dense as coronary plaque
can be: the same mineral, so that density cannot tell them from it (lung1 of ../shared: 1040 HU)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from cacscore.phantom.lookalikes import CALCIUM_DENSITY_HU, LookAlike, _aortic_root_wall, _aortic_valve, chain

#: An aortic root of radius 15 mm whose axis runs up and to the patient's right (world mm).
_AXIS = np.array([-0.3, 0.0, 1.0]) / np.linalg.norm([-0.3, 0.0, 1.0])
_ROOT = SimpleNamespace(root_centre=np.array([10.0, -20.0, 50.0]), root_axis=_AXIS, root_radius_mm=15.0,
                        valve_hinge=np.array([10.0, -20.0, 50.0]) - 0.2 * 15.0 * _AXIS)


def _radial_and_axial(centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) of points from the root's axis and their height along it above the root's centre."""
    rel = centres - _ROOT.root_centre
    axial = rel @ _AXIS
    return np.linalg.norm(rel - axial[:, None] * _AXIS, axis=1), axial


def test_valve_calcium_lies_on_the_cusps_inside_the_root():
    r = _ROOT.root_radius_mm
    for seed in range(40):
        objects = _aortic_valve(np.random.default_rng(seed), _ROOT, 40.0, age=1.0)
        assert 1 <= len(objects) <= 3  # one object per calcified cusp
        for obj in objects:
            assert obj.kind == LookAlike.AORTIC_VALVE.name and obj.background_hu == 40.0
            centres = np.array([e.centre for e in obj.ellipsoids])
            radial, axial = _radial_and_axial(centres)
            # between half-way to the axis and the annulus; the hinge 0.2 r below the root's centre
            # (+- 4 SD of the 1 mm scatter along the axis)
            assert np.all((radial >= 0.5 * r - 1e-6) & (radial <= r + 1e-6))
            assert np.all(np.abs(axial + 0.2 * r) <= 4.0)
            assert all(300.0 <= e.density_hu <= 1500.0 for e in obj.ellipsoids)


def test_root_wall_calcium_lies_in_the_wall_above_the_cusps():
    r = _ROOT.root_radius_mm
    heights = []
    for seed in range(40):
        objects = _aortic_root_wall(np.random.default_rng(seed), _ROOT, 40.0)
        assert 1 <= len(objects) <= 2
        for obj in objects:
            assert obj.kind == LookAlike.AORTIC_WALL.name
            radial, axial = _radial_and_axial(np.array([e.centre for e in obj.ellipsoids]))
            assert np.allclose(radial, r)
            assert np.all((axial >= -0.3 * r - 1e-6) & (axial <= 0.6 * r + 1e-6))
            heights.append(np.ptp(axial))
            # each ellipsoid 0.8-1.0 of the plaque's density (lookalikes.chain)
            assert all(0.8 * 300.0 <= e.density_hu <= 1500.0 for e in obj.ellipsoids)
    # from a fleck on one level to a band as tall as lung1's crescent (slices 12-14 of 5 mm: ~10-15 mm),
    # no taller than the 0.9 r between the cusps and the sinotubular junction
    assert min(heights) < 1e-6 and 9.0 <= max(heights) <= 0.9 * r


def test_valve_and_root_calcium_reach_the_densest_coronary_plaque():
    """Over 40 patients the valve's and the root wall's intrinsic densities reach above 1200 HU, the range
    of the densest coronary lesions (cacscore.phantom.lesions: up to 1500 HU) and beyond lung1's 1040 HU,
    and stay inside CALCIUM_DENSITY_HU."""
    densities = []
    for seed in range(40):
        for objects in (_aortic_valve(np.random.default_rng(seed), _ROOT, 40.0, age=1.0),
                        _aortic_root_wall(np.random.default_rng(seed), _ROOT, 40.0)):
            densities += [e.density_hu for obj in objects for e in obj.ellipsoids]
    assert max(densities) > 1200.0
    assert CALCIUM_DENSITY_HU[0] * 0.8 <= min(densities) and max(densities) <= CALCIUM_DENSITY_HU[1]


def test_a_chain_through_coinciding_points_keeps_its_last_tangent():
    """An aortic-wall plaque near the aorta's end repeats the end point (its indices are clipped there): the
    ellipsoids there keep the tangent of the points before them (along x here) instead of a 0/0 frame (a
    cohort of 40 crashed on it). Without a tangent yet (the first point), the chain runs along z."""
    pts = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    radial = np.tile([0.0, 1.0, 0.0], (len(pts), 1))
    ells = chain(pts, 1.2, 0.8, 1.4, 500.0, np.random.default_rng(0), radial)
    for e in ells:
        assert np.all(np.isfinite(e.axes))
    assert np.allclose(np.abs(ells[3].axes[0]), [1.0, 0.0, 0.0])  # the tangent from points 1-3
    lone = chain(np.zeros((2, 3)), 1.2, 0.8, 1.4, 500.0, np.random.default_rng(0), radial[:2])
    assert np.allclose(np.abs(lone[0].axes[0]), [0.0, 0.0, 1.0])
