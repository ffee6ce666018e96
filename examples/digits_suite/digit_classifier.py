"""The domain feature extractor: a LeNet-style digit classifier whose penultimate layer is the feature.

FID, recall and coverage are only as meaningful as the features they are computed on. The
Inception network of the FID paper was trained on ImageNet photographs; on 16-pixel digits
its features say little. MNIST papers therefore compute FID on the penultimate layer of a
small classifier trained on the digits themselves ("LeNet features"); this file is that
extractor, and the pattern any team with its own domain (medical scans, satellite tiles,
faces) follows: a network that knows the domain, wrapped in the two-member protocol the
assertions use,

    extractor.id                   -> str naming architecture, weights and preprocessing
    extractor(batch)["pool"]       -> float32 [N, d] feature rows

(``"logits"`` is returned as well, for the class-histogram check of the suite).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from pytest_genquality import ImageBatch

FEATURE_DIM = 64  # width of the penultimate layer: the "pool" features
WEIGHTS = Path(__file__).parent / "weights" / "classifier.safetensors"


class DigitClassifier(nn.Module):
    """LeNet-like: two conv blocks (16 -> 8 -> 4 px), a 64-wide penultimate layer, 10 classes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.penultimate = nn.Linear(32 * 4 * 4, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images: float [N,1,16,16] in [0, 1] -> float [N, 64]."""
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.penultimate(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class DigitFeatures:
    """The classifier as a genquality extractor: ``extractor(batch) -> {"pool": [N,64], "logits": [N,10]}``.

    Images are read as uint8 RGB (what ``ImageBatch`` holds), averaged to gray, resized to
    16 px when they are not, and scaled to [0, 1], the preprocessing the classifier was
    trained with. ``id`` carries the weights' sha256 prefix, so statistics built with other
    weights are refused rather than compared.
    """

    def __init__(self, weights: str | Path = WEIGHTS, *, device: str | torch.device = "cpu", batch_size: int = 256):
        from safetensors.torch import load_file

        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(
                f"weights: no classifier weights at {weights}; train them with `python examples/digits_suite/train.py`"
            )
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model = DigitClassifier()
        self.model.load_state_dict(load_file(weights))
        self.model.eval().to(self.device)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
        self.id = f"digits-lenet:{digest}/gray-16px"

    @torch.no_grad()
    def __call__(self, batch) -> dict[str, torch.Tensor]:
        """batch: an ImageBatch or uint8 [N,3,H,W] (build-ref passes the latter)."""
        images = batch.images if isinstance(batch, ImageBatch) else torch.as_tensor(batch)
        pool, logits = [], []
        for start in range(0, len(images), self.batch_size):
            gray = images[start : start + self.batch_size].to(self.device).float().mean(dim=1, keepdim=True) / 255.0
            if gray.shape[-2:] != (16, 16):
                gray = F.interpolate(gray, size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
            features = self.model.features(gray)
            pool.append(features.cpu())
            logits.append(self.model.head(features).cpu())
        return {"pool": torch.cat(pool).float(), "logits": torch.cat(logits).float()}

    def classify(self, batch) -> torch.Tensor:
        """Predicted digit of each image, int64 [N]."""
        return self(batch)["logits"].argmax(dim=1)
