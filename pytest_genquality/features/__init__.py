"""Feature extractors, one per file, sharing a small protocol.

Every extractor has an ``id`` (architecture, weights sha256 prefix or ``random-seed-N``,
preprocessing mode), because features from different weights or resizing are different
quantities and must never be compared.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "AestheticPredictor": "aesthetic",
    "InceptionFID": "inception",
    "CLIPEmbedder": "clip",
    "DINOv2Embedder": "dinov2",
    "HPSv2": "hps",
    "PickScore": "pickscore",
    "build_random_inception_weights": "inception",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
