"""Paired pixel metrics: PSNR and SSIM, one value per image pair.

Used by ``assert_no_regression`` to compare each image generated with a seed against the
baseline image of the same seed, so each returns an array (one value per pair) that the
drift test can bootstrap, not a single mean. Computation is in float64.

Inputs are any [N, C, H, W] images, as torchmetrics takes them: RGB or single-channel
(grayscale, depth, masks), uint8 / integer levels (data range 255 by default) or floats with an
explicit ``data_range``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .validation import as_pixel_pairs

SSIM_KERNEL_SIZE = 11  # Wang et al. 2004; torchmetrics default
SSIM_SIGMA = 1.5  # Wang et al. 2004; torchmetrics default
SSIM_K1 = 0.01  # Wang et al. 2004
SSIM_K2 = 0.03  # Wang et al. 2004
UINT8_RANGE = 255.0
PAIRS_PER_STEP = 16  # images convolved at once: bounds SSIM's float64 working memory


def psnr(a, b, *, data_range: float | None = None) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per pair: 10 log10(data_range^2 / MSE).

    a, b: ImageBatch or tensors [N, C, H, W] (C = 1 for grayscale), image i of a paired with
    image i of b. data_range: the width of the pixel scale; 255 for integer pixels when None,
    required for float pixels (1.0 for 0..1 images). Higher is better; identical images give
    +inf (as in torchmetrics). Returns float64 [N]; equals torchmetrics'
    ``peak_signal_noise_ratio(b, a, data_range=..., dim=(1, 2, 3), reduction="none")``.
    """
    images_a, images_b, data_range = as_pixel_pairs(a, b, data_range)
    difference = images_a - images_b
    mse = difference.pow(2).flatten(1).mean(dim=1).numpy()
    with np.errstate(divide="ignore"):
        return 10.0 * (2.0 * np.log10(data_range) - np.log10(mse))


def ssim(a, b, *, data_range: float | None = None) -> np.ndarray:
    """Structural similarity per pair, as torchmetrics' ``structural_similarity_index_measure``.

    a, b: ImageBatch or tensors [N, C, H, W] (C = 1 for grayscale). Gaussian window 11 x 11 with
    sigma 1.5, K1 0.01, K2 0.03, constants scaled by ``data_range`` (255 for integer pixels when
    None, required for float pixels), reflect padding of 5 pixels so the SSIM map has the
    image's size, averaged over channels and pixels. Range [-1, 1], higher is better, 1 for
    identical images. Returns float64 [N].
    """
    images_a, images_b, data_range = as_pixel_pairs(a, b, data_range)
    pad = SSIM_KERNEL_SIZE // 2
    if min(images_a.shape[2:]) <= pad:
        raise ValueError(
            f"a: images of {tuple(images_a.shape[2:])} pixels are too small for SSIM's "
            f"{SSIM_KERNEL_SIZE}x{SSIM_KERNEL_SIZE} window; expected height and width > {pad}"
        )
    window = _gaussian_window(SSIM_KERNEL_SIZE, SSIM_SIGMA)
    values = [
        _ssim_of_pairs(images_a[i : i + PAIRS_PER_STEP], images_b[i : i + PAIRS_PER_STEP], window, data_range)
        for i in range(0, len(images_a), PAIRS_PER_STEP)
    ]
    return np.concatenate(values)


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, float64 [size]."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return taps / taps.sum()


def _blur(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur per channel, 'valid' on already padded images."""
    channels = images.shape[1]
    size = window.numel()
    rows = window.view(1, 1, size, 1).expand(channels, 1, size, 1)
    cols = window.view(1, 1, 1, size).expand(channels, 1, 1, size)
    return F.conv2d(F.conv2d(images, rows, groups=channels), cols, groups=channels)


def _ssim_of_pairs(
    images_a: torch.Tensor, images_b: torch.Tensor, window: torch.Tensor, data_range: float
) -> np.ndarray:
    """float64 [n, C, H, W] pairs -> mean SSIM per pair."""
    pad = window.numel() // 2
    x = F.pad(images_a, (pad, pad, pad, pad), mode="reflect")
    y = F.pad(images_b, (pad, pad, pad, pad), mode="reflect")
    count = len(x)
    blurred = _blur(torch.cat([x, y, x * x, y * y, x * y]), window).split(count)
    mu_x, mu_y, mean_xx, mean_yy, mean_xy = blurred
    var_x = (mean_xx - mu_x**2).clamp(min=0.0)
    var_y = (mean_yy - mu_y**2).clamp(min=0.0)
    cov_xy = mean_xy - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1).numpy()
