"""CLIP score (Hessel et al. 2021) in torchmetrics' ``CLIPScore`` convention.

Each image/caption pair scores 100 * cos(image embedding, text embedding); the score is the mean
over pairs, floored at 0 (torchmetrics floors the mean, not each pair: ``max(mean, 0)``).
Higher is better; typical values for a good text-to-image model with ViT-L/14 are 25..35.
"""

from __future__ import annotations

import numpy as np

from .validation import as_features, check_same_dim, check_same_rows

CLIP_SCORE_SCALE = 100.0  # torchmetrics CLIPScore (Hessel et al. use w = 2.5 instead)


def clip_score(img_emb, txt_emb) -> float:
    """Mean of 100 * cos over pairs (row i of img_emb with row i of txt_emb), floored at 0.

    img_emb, txt_emb: [N, D] embeddings (numpy or torch); rows are normalised here, so unit
    rows from ``CLIPEmbedder`` and raw projections give the same value. Range [0, 100].
    """
    images = as_features(img_emb, "img_emb")
    texts = as_features(txt_emb, "txt_emb")
    check_same_dim(images, texts, "img_emb", "txt_emb")
    check_same_rows(images, texts, "img_emb", "txt_emb")
    return float(max(per_pair_clip_scores(images, texts).mean(), 0.0))


def per_pair_clip_scores(images: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """100 * cos per pair, float64 [N], not floored (for bootstrap drift tests)."""
    images = images.astype(np.float64)
    texts = texts.astype(np.float64)
    image_norms = np.linalg.norm(images, axis=1)
    text_norms = np.linalg.norm(texts, axis=1)
    for name, norms in (("img_emb", image_norms), ("txt_emb", text_norms)):
        if np.any(norms == 0):
            raise ValueError(f"{name}: row {int(np.argmin(norms))} is all zeros; a cosine needs a non-zero embedding")
    return CLIP_SCORE_SCALE * np.einsum("ij,ij->i", images, texts) / (image_norms * text_norms)
