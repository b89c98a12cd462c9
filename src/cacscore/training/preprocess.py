"""Patch preprocessing (HU window -> [0, 1], optional resize) and augmentation, applied to whole batches.

Both operate on float tensors (N, 1, H, W) of HU built from the stored int16 patches, so the stored data is
never changed and the same :class:`Preprocessing` (recorded in the model folder) is used at inference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as nnf


@dataclass(frozen=True)
class Preprocessing:
    """HU clipped to a window, scaled as ``(hu - offset_hu) / scale_hu``, then optionally resized (bilinear).

    With ``offset_hu``/``scale_hu`` left None the window maps to [0, 1] (min-max: offset = lo,
    scale = hi - lo).

    Attributes:
        window_lo_hu, window_hi_hu: HU window; values outside are clipped.
        offset_hu, scale_hu: affine map after clipping (None: min-max to [0, 1]).
        resize_px: side to resize to (the paper: 227 for AlexNet), or None to keep the patch size.
    """

    window_lo_hu: float = -1024.0
    window_hi_hu: float = 3071.0
    offset_hu: float | None = None
    scale_hu: float | None = None
    resize_px: int | None = None

    def to_dict(self) -> dict:
        """JSON-able form (recorded in config.json)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        """Inverse of :meth:`to_dict`."""
        names = ("window_lo_hu", "window_hi_hu", "offset_hu", "scale_hu", "resize_px")
        return cls(**{k: d[k] for k in names if k in d})

    def __call__(self, hu: torch.Tensor) -> torch.Tensor:
        """Network input from HU (N, 1, H, W)."""
        offset = self.window_lo_hu if self.offset_hu is None else self.offset_hu
        scale = (self.window_hi_hu - self.window_lo_hu) if self.scale_hu is None else self.scale_hu
        x = (hu.clamp(self.window_lo_hu, self.window_hi_hu) - offset) / scale
        if self.resize_px is not None and tuple(x.shape[-2:]) != (self.resize_px, self.resize_px):
            size = (self.resize_px, self.resize_px)
            x = nnf.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x


@dataclass(frozen=True)
class PatchAugmentation:
    """Random, label-preserving changes of a HU patch batch (each sample drawn independently).

    Attributes:
        flips: random horizontal and vertical flips.
        rot90: random multiples of 90 degrees.
        hu_shift: uniform offset in [-hu_shift, hu_shift] HU per patch (calibration differences).
        noise_sd_hu: Gaussian noise with a standard deviation drawn uniformly in [0, noise_sd_hu] HU per patch
            (dose differences).
    """

    flips: bool = True
    rot90: bool = True
    hu_shift: float = 15.0
    noise_sd_hu: float = 12.0

    def to_dict(self) -> dict:
        """JSON-able form."""
        return asdict(self)

    def __call__(
        self, hu: torch.Tensor, generator: torch.Generator, spatial: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Augmented copy of ``hu`` (N, C, H, W, square), drawn from ``generator`` (on the CPU).

        ``spatial`` (N, C2, H, W), when given, are non-HU planes of the same windows (e.g. the fraction of
        heart ROI): they get the same flips and rotations, no HU shift or noise, and ``(hu, spatial)`` is
        returned.
        """
        n = hu.shape[0]
        c_hu = hu.shape[1]
        x = hu.clone() if spatial is None else torch.cat([hu, spatial.to(hu.dtype)], dim=1)

        def draw(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator).to(x.device)

        if self.flips:
            fy = draw(n) < 0.5
            fx = draw(n) < 0.5
            x = torch.where(fy[:, None, None, None], x.flip(-2), x)
            x = torch.where(fx[:, None, None, None], x.flip(-1), x)
        if self.rot90:
            k = torch.floor(draw(n) * 4).long()
            out = x.clone()
            for r in (1, 2, 3):
                sel = k == r
                if bool(sel.any()):
                    out[sel] = torch.rot90(x[sel], r, dims=(-2, -1))
            x = out
        extra = None
        if spatial is not None:
            x, extra = x[:, :c_hu], x[:, c_hu:]
        if self.hu_shift > 0:
            x = x + ((draw(n) * 2 - 1) * self.hu_shift)[:, None, None, None]
        if self.noise_sd_hu > 0:
            sd = draw(n) * self.noise_sd_hu
            noise = torch.randn(x.shape, generator=generator).to(x.device)
            x = x + noise * sd[:, None, None, None]
        return x if extra is None else (x, extra)
