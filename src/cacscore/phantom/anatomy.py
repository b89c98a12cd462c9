"""The phantom patient's anatomy: drawn once as geometry (:func:`build_thorax`), then painted on a scan grid
(:func:`paint_anatomy`) in the order that lets each structure overwrite what it displaces: body wall and
lung-filled cavity, abdomen under the diaphragm, mediastinal fat and tubes, the heart, pulmonary vessels,
spine, rib cage, scapulae.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.abdomen import Abdomen, build_abdomen, paint_abdomen
from cacscore.phantom.body_wall import paint_body_wall
from cacscore.phantom.coronaries import build_coronaries
from cacscore.phantom.grid import Grid
from cacscore.phantom.heart import HeartGeometry, build_heart, heart_size, place_heart
from cacscore.phantom.heart_tissue import heart_fields, paint_heart
from cacscore.phantom.lungs import lung_vessel_tree, paint_lung_vessels
from cacscore.phantom.mediastinum import paint_mediastinum
from cacscore.phantom.patient import Patient, draw_patient
from cacscore.phantom.ribcage import RibCage, build_ribcage, paint_ribcage, paint_scapulae
from cacscore.phantom.spine import Spine, build_spine, paint_spine
from cacscore.phantom.vessels import Mediastinum, build_mediastinum


@dataclass
class Thorax:
    """The whole patient as geometry (world mm), independent of any scan grid."""

    patient: Patient
    heart: HeartGeometry
    retrosternal_fat_mm: float
    ribcage: RibCage
    spine: Spine
    mediastinum: Mediastinum
    abdomen: Abdomen
    lung_vessels: list


@dataclass
class Anatomy:
    """The sharp (unblurred) HU image, its tissue map and the heart mask."""

    hu: np.ndarray
    tissue: np.ndarray
    heart_mask: np.ndarray


def build_thorax(rng: np.random.Generator) -> Thorax:
    """Draw a patient and every structure of the chest."""
    p = draw_patient(rng)
    heart = build_heart(rng, heart_size(p, rng), p.adiposity)
    gap = place_heart(rng, p, heart)
    build_coronaries(rng, heart)
    ribcage = build_ribcage(rng, p)
    spine = build_spine(rng, p)
    med = build_mediastinum(rng, p, heart, float(p.z_at(0.3)), float(p.z_at(14.8)))
    ab = build_abdomen(rng, p, heart.floor_z, (float(heart.centre[0]), float(heart.centre[1])))
    return Thorax(p, heart, gap, ribcage, spine, med, ab, lung_vessel_tree(rng, med.hila))


def paint_anatomy(grid: Grid, thorax: Thorax, rng: np.random.Generator) -> Anatomy:
    """Paint the thorax on ``grid``: sharp HU (float32), tissue map (uint8 :class:`Tissue`), heart mask."""
    p = thorax.patient
    hu = np.empty(grid.shape, np.float32)
    tissue = np.empty(grid.shape, np.uint8)
    z_abdomen = max(thorax.abdomen.right_dome[2], thorax.abdomen.left_dome[2]) - 20.0
    paint_body_wall(grid, hu, tissue, p, rng, z_abdomen)
    paint_abdomen(grid, hu, tissue, p, thorax.abdomen)
    fields = heart_fields(grid, thorax.heart, thorax.mediastinum.intrapericardial())
    paint_mediastinum(
        grid, hu, tissue, p, thorax.heart, fields, thorax.mediastinum, thorax.ribcage.sternum, rng
    )
    heart_mask = (
        paint_heart(grid, hu, tissue, thorax.heart, fields, p.hu)
        if fields is not None
        else np.zeros(grid.shape, bool)
    )
    paint_lung_vessels(grid, hu, tissue, thorax.lung_vessels, p.hu.blood)
    paint_spine(grid, hu, tissue, p, thorax.spine, rng)
    paint_ribcage(grid, hu, tissue, thorax.ribcage, p)
    paint_scapulae(grid, hu, tissue, p)
    return Anatomy(hu=hu, tissue=tissue, heart_mask=heart_mask)
