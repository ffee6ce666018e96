"""LPIPS (Zhang et al. 2018): learned perceptual distance per image pair, given the network.

Used by ``assert_no_regression(batch, "lpips", max_value=...)`` to compare each image with the
baseline image of the same seed. 0 for identical images, larger is more different (lower is
better); typical "visibly the same" values are below 0.05 with the AlexNet backbone.

The network and its weights are the features layer's job (``features.lpips_net``;
``features.image_metrics.lpips`` finds the weights and calls this): here only pairs in,
distances out.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .validation import as_image_pairs

LPIPS_PAIRS_PER_STEP = 16  # pairs per forward pass: bounds activation memory


def lpips_distance(a, b, network: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> np.ndarray:
    """LPIPS distance per pair, float64 [N].

    a, b: ImageBatch or uint8 tensors [N, 3, H, W], image i of a paired with image i of b.
    network: an LPIPS network (``features.lpips_net.LPIPSNet``): two uint8 batches in, one
    distance per pair out.
    """
    images_a, images_b = as_image_pairs(a, b)
    distances = [
        network(images_a[i : i + LPIPS_PAIRS_PER_STEP], images_b[i : i + LPIPS_PAIRS_PER_STEP]).cpu()
        for i in range(0, len(images_a), LPIPS_PAIRS_PER_STEP)
    ]
    return torch.cat(distances).to(torch.float64).numpy()
