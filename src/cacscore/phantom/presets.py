"""Acquisition presets of the phantom: one frozen dataclass per scanner vendor, in a registry.

The four presets stand for the four orCaScore vendors, numbered 1..4 in the order the API names them
(siemens, philips, ge, canon); the phantom writes ``TRV{vendor_code}P{p}``. They differ as the real
protocols do: noise level and texture (reconstruction kernel), in-plane sharpness, field of view (so pixel
spacing), slice thickness and increment. All are 120 kVp, ECG-gated, non-contrast.

The "canon" preset is calibrated against the real Canon Aquilion ONE scan of the QRM phantom in
../shared/data/qrm-phantom (see docs/phantom.md: noise SD and per-insert Agatston); the other three are
set from typical protocol values (kernel FWHM 0.9-1.3 mm, blood-pool noise 15-45 HU) and are not
calibrated against a real scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from cacscore.errors import CacscoreError


@dataclass(frozen=True)
class AcquisitionPreset:
    """How one vendor's calcium-scoring protocol forms the image.

    Attributes:
        name: registry key ("siemens", ...).
        vendor_code: orCaScore-style vendor number used in file names (TRV{vendor_code}P{p}).
        manufacturer, model, kernel: what the DICOM header says.
        kvp: tube voltage (kV); 120 for every calcium-scoring preset.
        slice_thickness_mm: nominal reconstructed slice thickness (FWHM of the slice profile).
        slice_increment_mm: distance between slice centres; smaller than the thickness = overlapping.
        fov_mm: (min, max) reconstruction field of view (mm); pixel spacing = FOV / 512.
        psf_sigma_mm: in-plane point-spread function, Gaussian sigma (mm).
        slice_edge_sigma_mm: sigma (mm) of the Gaussian that softens the edges of the rectangular slice
            profile (the slice sensitivity profile is a box of width ``slice_thickness_mm`` convolved with
            this Gaussian).
        noise_sd_hu: (min, max) noise SD (HU) in the blood pool of an average-sized patient.
        nps_peak_per_mm: spatial frequency (cycles/mm) at which the noise power spectrum peaks; smooth
            kernels peak low, sharp kernels high.
        nps_floor_per_mm: low-frequency term of the noise power spectrum, NPS ~ (f + floor) exp(-(f/f_c)^2):
            real scans keep noise power near f = 0 (streaky, low-frequency noise from the patient's
            size and tube modulation); 0.12 mm^-1 matches the real QRM scan's NPS (docs/phantom.md).
        outside_fov_hu: value given to pixels outside the circular reconstruction field of view.
    """

    name: str
    vendor_code: int
    manufacturer: str
    model: str
    kernel: str
    slice_thickness_mm: float
    slice_increment_mm: float
    fov_mm: tuple[float, float]
    psf_sigma_mm: float
    slice_edge_sigma_mm: float
    noise_sd_hu: tuple[float, float]
    nps_peak_per_mm: float
    kvp: float = 120.0
    nps_floor_per_mm: float = 0.12
    outside_fov_hu: float = -1024.0

    @property
    def pixel_spacing_range_mm(self) -> tuple[float, float]:
        """(min, max) in-plane pixel spacing (mm) for 512 x 512 slices."""
        return (self.fov_mm[0] / 512.0, self.fov_mm[1] / 512.0)


#: The registry of vendor presets, in orCaScore vendor order 1..4.
VENDOR_PRESETS: dict[str, AcquisitionPreset] = {
    "siemens": AcquisitionPreset(
        name="siemens",
        vendor_code=1,
        manufacturer="SIEMENS",
        model="SOMATOM Definition Flash",
        kernel="B35f",
        slice_thickness_mm=3.0,
        slice_increment_mm=3.0,
        fov_mm=(180.0, 240.0),
        psf_sigma_mm=0.50,
        slice_edge_sigma_mm=0.35,
        noise_sd_hu=(18.0, 32.0),
        nps_peak_per_mm=0.30,
    ),
    "philips": AcquisitionPreset(
        name="philips",
        vendor_code=2,
        manufacturer="Philips",
        model="Brilliance iCT 256",
        kernel="B",
        slice_thickness_mm=3.0,
        slice_increment_mm=1.5,
        fov_mm=(200.0, 260.0),
        psf_sigma_mm=0.55,
        slice_edge_sigma_mm=0.40,
        noise_sd_hu=(20.0, 38.0),
        nps_peak_per_mm=0.26,
    ),
    "ge": AcquisitionPreset(
        name="ge",
        vendor_code=3,
        manufacturer="GE MEDICAL SYSTEMS",
        model="LightSpeed VCT",
        kernel="STANDARD",
        slice_thickness_mm=2.5,
        slice_increment_mm=2.5,
        fov_mm=(250.0, 350.0),
        psf_sigma_mm=0.45,
        slice_edge_sigma_mm=0.30,
        noise_sd_hu=(25.0, 42.0),
        nps_peak_per_mm=0.34,
    ),
    "canon": AcquisitionPreset(
        name="canon",
        vendor_code=4,
        manufacturer="TOSHIBA",
        model="Aquilion ONE",
        kernel="FC12",
        slice_thickness_mm=3.0,
        slice_increment_mm=3.0,
        fov_mm=(220.0, 260.0),
        psf_sigma_mm=0.65,
        slice_edge_sigma_mm=0.50,
        noise_sd_hu=(16.0, 28.0),
        nps_peak_per_mm=0.22,
    ),
}


@dataclass(frozen=True)
class RandomAcquisition:
    """Ranges from which every case draws its own acquisition (SynthSeg-style randomisation, Billot et al.,
    Med Image Anal 2023): protocol (ECG-gated calcium scoring or non-gated chest CT), kernel sharpness and
    noise texture, noise level, slice thickness and increment, field of view, cardiac motion.

    Ranges cover clinical practice: calcium-scoring CT at 0.5-3 mm (2.5-3 mm standard; Hecht et al., J
    Cardiovasc Comput Tomogr 2017), chest CT at 1-5 mm; cardiac fields of view 160-260 mm, chest 300-420 mm;
    soft-tissue kernels with PSF sigma 0.35-0.9 mm (FWHM 0.8-2.1 mm) and NPS peaks 0.15-0.45 mm^-1
    (Solomon et al., Med Phys 2012); noise SD 10-60 HU (low-dose to standard dose); non-gated scans blur
    and double coronary calcium by the heart's motion, 1-5 mm during one rotation (e.g. Achenbach et al.,
    Circulation 2000: coronary displacement 5-20 mm per beat, a fraction of it within the acquisition).
    """

    name: str = "random"
    vendor_code: int = 5
    manufacturer: str = "cacscore phantom"
    model: str = "random acquisition"
    kvp: float = 120.0
    gated_probability: float = 0.6
    gated_thickness_mm: tuple[float, ...] = (0.5, 0.625, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
    gated_thickness_weights: tuple[float, ...] = (1, 1, 2, 1, 1, 1, 3, 6)
    chest_thickness_mm: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0)
    chest_thickness_weights: tuple[float, ...] = (2, 2, 1, 2, 1, 2, 3)
    overlap_probability: float = 0.3
    gated_fov_mm: tuple[float, float] = (160.0, 260.0)
    chest_fov_mm: tuple[float, float] = (300.0, 420.0)
    psf_sigma_mm: tuple[float, float] = (0.35, 0.9)
    slice_edge_sigma_mm: tuple[float, float] = (0.25, 0.6)
    nps_peak_per_mm: tuple[float, float] = (0.15, 0.45)
    nps_floor_per_mm: tuple[float, float] = (0.06, 0.16)
    gated_noise_sd_hu: tuple[float, float] = (12.0, 45.0)
    chest_noise_sd_hu: tuple[float, float] = (10.0, 60.0)
    motion_mm: tuple[float, float] = (1.0, 5.0)
    outside_fov_hu: float = -1024.0


#: The randomised acquisition ("random"): not one of the four vendor presets, so default cohorts keep
#: cycling through those four.
RANDOM_ACQUISITION = RandomAcquisition()

#: Every name :func:`get_preset` accepts: the four vendor presets and "random".
ACQUISITION_PRESETS: dict[str, AcquisitionPreset | RandomAcquisition] = {
    **VENDOR_PRESETS,
    RANDOM_ACQUISITION.name: RANDOM_ACQUISITION,
}


def get_preset(name: str | AcquisitionPreset | RandomAcquisition) -> AcquisitionPreset | RandomAcquisition:
    """The preset called ``name`` (or ``name`` itself when it already is a preset)."""
    if isinstance(name, AcquisitionPreset | RandomAcquisition):
        return name
    try:
        return ACQUISITION_PRESETS[name.lower()]
    except KeyError:
        raise CacscoreError(
            f"unknown phantom vendor {name!r}; choose one of {', '.join(ACQUISITION_PRESETS)}"
        ) from None
