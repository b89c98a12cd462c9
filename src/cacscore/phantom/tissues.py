"""Tissue classes of the phantom and each patient's own HU for them (120 kVp, non-contrast).

Every voxel of the sharp anatomy belongs to one :class:`Tissue` (the class that covers at least half of it);
``PhantomCase.tissues`` keeps that map, so a test or a descriptor can ask what lies around a voxel.

HU ranges follow standard CT-number tables (Bushberg et al., The Essential Physics of Medical Imaging, 3rd
ed., appendix on CT numbers; Lev & Gonzalez in: Lee, Sagel, Stanley, Computed Body Tomography with MRI
Correlation) and were checked on the two real chest CTs in ../shared/data/real-chest-ct (medians of
small ROIs, 5 mm slices): subcutaneous fat -118 / -104, unenhanced blood and heart 42-46, descending aorta
35-44, liver 62, aerated lung -836 anteriorly to -770 posteriorly in one patient and -902 in the other,
vertebral cancellous bone 143 (osteoporotic) and 313 (dense), rib marrow ~140, costal cartilage 40-90
where not calcified. As in SynthSeg (Billot et al., Med Image Anal 2023), every patient draws its own
values inside these ranges, so that the classifier cannot learn one patient's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

#: Air: -1000 HU by the definition of the Hounsfield scale.
HU_AIR: float = -1000.0


class Tissue(IntEnum):
    """Codes of the tissue map (uint8)."""

    AIR = 0  # outside the body, airway lumen, bowel gas
    LUNG = 1  # aerated lung parenchyma
    FAT = 2  # subcutaneous, mediastinal, paracardial, abdominal fat
    EPICARDIAL_FAT = 3  # fat inside the pericardium
    SOFT_TISSUE = 4  # skin, breast gland, oesophagus, vessel and airway walls, lymph nodes, thymus
    MUSCLE = 5
    BLOOD = 6  # unenhanced blood: heart chambers, aorta, great vessels, lung vessels
    MYOCARDIUM = 7
    PERICARDIUM = 8
    CORONARY = 9  # coronary artery wall and lumen
    LIVER = 10
    SPLEEN = 11
    KIDNEY = 12
    STOMACH = 13  # gastric contents (fluid) and wall
    CSF = 14  # spinal canal
    DISC = 15  # intervertebral disc
    COSTAL_CARTILAGE = 16
    VERTEBRA = 17
    RIB = 18
    STERNUM = 19
    OTHER_BONE = 20  # scapula, clavicle


#: The tissues that are bone or cartilage (their bright voxels are named by the tissue, not as noise).
SKELETAL: frozenset[Tissue] = frozenset(
    {Tissue.COSTAL_CARTILAGE, Tissue.VERTEBRA, Tissue.RIB, Tissue.STERNUM, Tissue.OTHER_BONE}
)


@dataclass(frozen=True)
class TissueHU:
    """One patient's CT numbers (HU, before blur and noise).

    Attributes:
        fat, epicardial_fat: subcutaneous/mediastinal fat and the (slightly denser) fat in the pericardium.
        muscle, blood, myocardium: skeletal muscle; unenhanced blood (hematocrit sets it); the myocardium is
            5-10 HU above the blood, as on unenhanced CT.
        lung, lung_gradient: aerated lung anteriorly and how much denser the dependent (posterior) lung is.
        liver, spleen, kidney: abdominal organs.
        cortex: cortical bone; the painted cortex is ~1-2 mm thick, so blur and partial volume bring it
            down to the 250-600 HU the real scans show.
        cancellous: vertebral marrow, from osteoporotic (~60) to dense (~350).
        rib_marrow, sternum_marrow: marrow of the flat bones, near the vertebral value.
        cartilage: uncalcified costal cartilage.
        disc, csf, skin, pericardium, soft_tissue, stomach: the rest.
    """

    fat: float
    epicardial_fat: float
    muscle: float
    blood: float
    myocardium: float
    lung: float
    lung_gradient: float
    liver: float
    spleen: float
    kidney: float
    cortex: float
    cancellous: float
    rib_marrow: float
    sternum_marrow: float
    cartilage: float
    disc: float
    csf: float
    skin: float
    pericardium: float
    soft_tissue: float
    stomach: float

    def of(self, tissue: Tissue) -> float:
        """The HU a voxel of ``tissue`` gets (bone: its marrow; the cortex is painted separately)."""
        return HU_AIR if tissue == Tissue.AIR else float(getattr(self, _FIELD[tissue]))


_FIELD = {
    Tissue.LUNG: "lung",
    Tissue.FAT: "fat",
    Tissue.EPICARDIAL_FAT: "epicardial_fat",
    Tissue.SOFT_TISSUE: "soft_tissue",
    Tissue.MUSCLE: "muscle",
    Tissue.BLOOD: "blood",
    Tissue.MYOCARDIUM: "myocardium",
    Tissue.PERICARDIUM: "pericardium",
    Tissue.CORONARY: "soft_tissue",
    Tissue.LIVER: "liver",
    Tissue.SPLEEN: "spleen",
    Tissue.KIDNEY: "kidney",
    Tissue.STOMACH: "stomach",
    Tissue.CSF: "csf",
    Tissue.DISC: "disc",
    Tissue.COSTAL_CARTILAGE: "cartilage",
    Tissue.VERTEBRA: "cancellous",
    Tissue.RIB: "rib_marrow",
    Tissue.STERNUM: "sternum_marrow",
    Tissue.OTHER_BONE: "rib_marrow",
}


def draw_tissue_hu(rng: np.random.Generator, age_years: float) -> TissueHU:
    """Draw one patient's CT numbers; trabecular bone density falls with age, from ~320 HU at 40 to ~120
    at 85 (quantitative-CT norms lose ~1 %/year and more after the menopause, e.g. Cann et al., Radiology
    1985; osteoporotic vertebrae read 50-150 HU), with a wide spread between patients."""
    fat = rng.uniform(-120, -80)
    blood = rng.uniform(28, 52)
    cancellous = float(np.clip(320 - 4.5 * (age_years - 40) + rng.normal(0, 45), 50, 380))
    return TissueHU(
        fat=fat,
        epicardial_fat=min(fat + rng.uniform(0, 18), -70.0),
        muscle=rng.uniform(35, 60),
        blood=blood,
        myocardium=min(blood + rng.uniform(4, 11), 60.0),
        lung=rng.uniform(-900, -800),
        lung_gradient=rng.uniform(30, 130),
        liver=rng.uniform(40, 70),
        spleen=rng.uniform(40, 55),
        kidney=rng.uniform(25, 40),
        cortex=rng.uniform(900, 1500),
        cancellous=cancellous,
        rib_marrow=cancellous * rng.uniform(0.7, 1.0),
        sternum_marrow=cancellous * rng.uniform(0.6, 1.0),
        cartilage=rng.uniform(70, 130),
        disc=rng.uniform(70, 110),
        csf=rng.uniform(0, 20),
        skin=rng.uniform(20, 60),
        pericardium=rng.uniform(15, 40),
        soft_tissue=rng.uniform(25, 50),
        stomach=rng.uniform(5, 30),
    )
