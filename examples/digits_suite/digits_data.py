"""The real data of the digits suite: scikit-learn's 1 797 handwritten digits, split once.

``sklearn.datasets.load_digits`` ships with scikit-learn (no download): 8×8 grayscale scans,
ink 0..16. They are upsampled to 16×16 (bilinear) so the UNet has two resolutions to work
with. The split is fixed by a seeded permutation: the first ``HELD_OUT`` digits of it are
never trained on (neither the DDPM nor the classifier) and are the reference the suite
measures the generated digits against.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 16  # pixels per side of every image in this example
HELD_OUT = 500  # real digits kept out of training: the reference statistics
SPLIT_SEED = 0


def load_digits_16px() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1 797 digits as (images float32 [N,1,16,16] in [0, 1], ink white on black; labels int64 [N])."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    images = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    return images, torch.from_numpy(digits.target.astype(np.int64))


def split() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train": (images, labels), "held_out": (images, labels)}, the same on every machine."""
    images, labels = load_digits_16px()
    order = torch.from_numpy(np.random.default_rng(SPLIT_SEED).permutation(len(images)))
    held_out, train = order[:HELD_OUT], order[HELD_OUT:]
    return {"train": (images[train], labels[train]), "held_out": (images[held_out], labels[held_out])}


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """float [N,1,H,W] in [0, 1] -> uint8 [N,3,H,W], the layout of ImageBatch."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
