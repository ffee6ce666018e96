"""Preprocessing of uint8 images for the FID Inception: resize to 299x299 and normalise.

The same images give measurably different FID under different resizing (Parmar et al.,
"On Aliased Resizing and Surprising Subtleties in GAN Evaluation", 2022), so the mode is
part of every Inception extractor id, and each mode here reproduces one peer's arithmetic:

- ``"pytorch-fid"``: pytorch-fid 0.3.0 ``InceptionV3(resize_input=True, normalize_input=True)``
  on ``ToTensor`` images: x/255, ``F.interpolate(bilinear, align_corners=False)`` without
  antialiasing, then 2x - 1. Range [-1, 1].
- ``"tf1"``: torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x(method="slow")``, the
  TF 1.x ``resize_bilinear`` arithmetic, bit-exact on CPU, on float pixels 0..255, then
  (x - 128) / 128. Range [-1, 127/128].
- ``"clean"``: clean-fid's ``clean`` mode: PIL bicubic resize of each channel as a float
  ("F" mode) image, clipped to 0..255, then (x - 128) / 128. Range [-1, 127/128].
- ``"torchmetrics"``: torchmetrics >= 1.8 ``FrechetInceptionDistance`` (``antialias=True``, its
  default): ``NoTrainInceptionV3`` casts the uint8 pixels to float 0..255, resizes with
  ``F.interpolate(bilinear, align_corners=False, antialias=True)`` (always, even at 299), then
  (x - 128) / 128. Antialiasing widens the filter when downsampling, so on large images it
  differs from every other mode by percents of FID. Range [-1, 127/128].

Every function maps uint8 [N, 3, H, W] (any device) to float32 [N, 3, 299, 299] on that device.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

INCEPTION_SIZE = 299  # input side of the FID Inception-v3 (TF graph 2015-12-05)

ResizeFunction = Callable[[torch.Tensor], torch.Tensor]


def check_uint8_images(images, name: str = "images") -> torch.Tensor:
    """uint8 [N, 3, H, W] pixels of ``images``, checked by ``batch.as_uint8_images`` (the one image check)."""
    from ..batch import as_uint8_images

    return as_uint8_images(images, name)


def resize_pytorch_fid(images: torch.Tensor) -> torch.Tensor:
    """pytorch-fid: bilinear (align_corners=False, no antialias) on [0, 1], then to [-1, 1]."""
    check_uint8_images(images)
    unit = images.to(torch.float32) / 255
    resized = F.interpolate(unit, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    return 2 * resized - 1


def _tf1_sample_positions(in_size: int, out_size: int, device: torch.device):
    """TF 1.x ``resize_bilinear`` (align_corners=False, no half-pixel centres) sample grid.

    Output pixel i reads the source at i * (in/out), computed in float32 as TF does; returns the
    integer neighbours (the upper one clamped to the border) and the float32 fraction between them.
    """
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    positions = torch.arange(out_size, dtype=torch.float32) * scale
    lower = positions.long()  # positions >= 0, so truncation is floor
    upper = (lower + 1).clamp_max(in_size - 1)
    fraction = positions - lower.to(torch.float32)
    return lower.to(device), upper.to(device), fraction.to(device)


def tf1_bilinear_255(images: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """TF 1.x bilinear resize of uint8 images to float32 pixels 0..255, [N, 3, size, size].

    Interpolates along width first, then height, each as ``a + (b - a) * t`` in float32: the
    order torch-fidelity uses to reproduce TF's results bit for bit.
    """
    pixels = check_uint8_images(images).to(torch.float32)
    rows_lo, rows_hi, row_t = _tf1_sample_positions(pixels.shape[2], size, pixels.device)
    cols_lo, cols_hi, col_t = _tf1_sample_positions(pixels.shape[3], size, pixels.device)
    col_t = col_t.view(1, 1, 1, size)
    row_t = row_t.view(1, 1, size, 1)

    def along_width(rows: torch.Tensor) -> torch.Tensor:
        left = rows.index_select(3, cols_lo)
        right = rows.index_select(3, cols_hi)
        return left + (right - left) * col_t

    top = along_width(pixels.index_select(2, rows_lo))
    bottom = along_width(pixels.index_select(2, rows_hi))
    return top + (bottom - top) * row_t


def resize_tf1(images: torch.Tensor) -> torch.Tensor:
    """torch-fidelity: TF 1.x bilinear to 299 on 0..255, then (x - 128) / 128."""
    return (tf1_bilinear_255(images) - 128) / 128


def clean_bicubic_255(images: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """clean-fid's ``clean`` resize: PIL bicubic per channel in float mode, clipped to 0..255.

    PIL's resampling filter is antialiased (its support widens when downsampling), which is why
    clean-fid chose it; it runs on the CPU, whatever the device of ``images``.
    """
    from PIL import Image

    pixels = check_uint8_images(images).cpu().numpy().astype(np.float32)
    out = np.empty((pixels.shape[0], 3, size, size), dtype=np.float32)
    for index, image in enumerate(pixels):
        for channel in range(3):
            plane = Image.fromarray(np.ascontiguousarray(image[channel]))  # float32 -> mode "F"
            resized = plane.resize((size, size), resample=Image.Resampling.BICUBIC)
            out[index, channel] = np.asarray(resized, dtype=np.float32).clip(0, 255)
    return torch.from_numpy(out).to(images.device)


def resize_clean(images: torch.Tensor) -> torch.Tensor:
    """clean-fid: PIL bicubic (float, antialiased) to 299, then (x - 128) / 128."""
    return (clean_bicubic_255(images) - 128) / 128


def resize_torchmetrics(images: torch.Tensor) -> torch.Tensor:
    """torchmetrics >= 1.8: antialiased bilinear to 299 on float pixels 0..255, then (x - 128) / 128."""
    pixels = check_uint8_images(images).to(torch.float32)
    resized = F.interpolate(
        pixels, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False, antialias=True
    )
    return (resized - 128) / 128


RESIZE_MODES: dict[str, ResizeFunction] = {
    "pytorch-fid": resize_pytorch_fid,
    "tf1": resize_tf1,
    "clean": resize_clean,
    "torchmetrics": resize_torchmetrics,
}

# Modes whose peer runs torch-fidelity's network (torchmetrics builds torch-fidelity's
# FeatureExtractorInceptionV3): InceptionFID then runs the same unfolded, channels-first ops,
# so its features equal the peer's bit for bit on the same machine.
TORCH_FIDELITY_NETWORK_MODES = frozenset({"tf1", "torchmetrics"})


def get_resize(mode: str) -> ResizeFunction:
    """The preprocessing function of a named mode; ValueError naming ``resize`` otherwise."""
    if not isinstance(mode, str) or mode not in RESIZE_MODES:
        raise ValueError(f"resize: unknown preprocessing mode {mode!r}; expected one of {sorted(RESIZE_MODES)}")
    return RESIZE_MODES[mode]
