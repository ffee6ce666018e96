"""A tiny seeded random DINOv2 (transformers' Dinov2Model), built at test time (no downloads).

The real architecture (patch 14, CLS token, layer scale, final layer norm) at toy width, with
``image_size=224`` so that dgm-eval's 224 x 224 input needs no position-embedding interpolation.
"""

from __future__ import annotations

from pathlib import Path

import torch


def tiny_dinov2_config():
    from transformers import Dinov2Config

    return Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        mlp_ratio=2,
        image_size=224,
        patch_size=14,
    )


def build_tiny_dinov2(directory: Path, seed: int = 0) -> Path:
    """Save a random tiny Dinov2Model into ``directory`` (save_pretrained); return it."""
    from transformers import Dinov2Model

    directory = Path(directory)
    torch.manual_seed(seed)
    Dinov2Model(tiny_dinov2_config()).eval().save_pretrained(directory)
    return directory
