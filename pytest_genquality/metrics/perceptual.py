"""LPIPS (Zhang et al. 2018): learned perceptual distance per image pair.

Used by ``assert_no_regression(batch, "lpips", max_value=...)`` to compare each image with the
baseline image of the same seed. 0 for identical images, larger is more different (lower is
better); typical "visibly the same" values are below 0.05 with the AlexNet backbone.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from ._validate import as_image_pairs

LPIPS_PAIRS_PER_STEP = 16  # pairs per forward pass: bounds activation memory


def lpips(a, b, *, net: str = "alex", weights: str | os.PathLike | None = None,
          lin_weights: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> np.ndarray:
    """LPIPS v0.1 distance per pair, float64 [N].

    a, b: ImageBatch or uint8 tensors [N, 3, H, W], image i of a paired with image i of b
    (at least 16 x 16 pixels for AlexNet's strides, 32 x 32 for VGG16's pooling).
    net: "alex" (default, the lpips package's recommendation for a metric) or "vgg".
    weights: the torchvision backbone file (default: searched by ``resolve_weights``).
    lin_weights: the linear layers (default: those shipped with the ``lpips`` package).
    """
    from ..features.lpips_net import NETS, default_lin_weights
    from ..features.weights import resolve_weights

    images_a, images_b = as_image_pairs(a, b)
    if net not in NETS:
        raise ValueError(f"net: expected one of {sorted(NETS)}, got {net!r}")
    backbone = resolve_weights(NETS[net][0], weights)
    lin_path = Path(lin_weights).expanduser() if lin_weights is not None else default_lin_weights(net)
    network = _network(net, str(backbone.resolve()), str(lin_path.resolve()), str(torch.device(device)))
    distances = [
        network(images_a[i:i + LPIPS_PAIRS_PER_STEP], images_b[i:i + LPIPS_PAIRS_PER_STEP]).cpu()
        for i in range(0, len(images_a), LPIPS_PAIRS_PER_STEP)
    ]
    return torch.cat(distances).to(torch.float64).numpy()


@functools.lru_cache(maxsize=4)
def _network(net: str, weights: str, lin_weights: str, device: str):
    """Built once per (net, files, device): loading a backbone costs far more than a batch."""
    from ..features.lpips_net import LPIPSNet

    return LPIPSNet(net, weights=weights, lin_weights=lin_weights).to(device)
