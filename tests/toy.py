"""Small, fast stand-ins used by the plugin tests: a toy feature extractor and a toy generator.

The real Inception is exercised by its own parity tests; the store/drift/plugin tests need
something that runs in milliseconds and still responds to image content.
"""

import torch
import torch.nn.functional as F

from pytest_genquality import ImageBatch


class ToyExtractor:
    """uint8 images -> 4x4 average-pooled pixels (48 values) -> fixed random projection to 32-d."""

    def __init__(self, dim: int = 32, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.projection = torch.randn(48, dim, generator=generator, dtype=torch.float64) / 48**0.5
        self.classifier = torch.randn(dim, 10, generator=generator, dtype=torch.float64)
        self.id = f"toy:proj{dim}-seed{seed}"

    def __call__(self, images):
        if isinstance(images, ImageBatch):
            images = images.images
        pooled = F.adaptive_avg_pool2d(images.to(torch.float64) / 255.0, 4).flatten(1)
        features = torch.tanh(pooled @ self.projection * 4.0)
        return {
            "pool": features.to(torch.float32),
            "logits_unbiased": (features @ self.classifier * 3).to(torch.float32),
        }


def toy_images(seeds, *, shift: float = 0.0, size: int = 16) -> ImageBatch:
    """Deterministic per-seed images: smooth random fields, brightness shifted by ``shift`` (0..1)."""
    images = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        coarse = torch.rand(3, 4, 4, generator=generator, dtype=torch.float64)
        field = F.interpolate(coarse[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        images.append(((field * (1 - abs(shift)) + max(shift, 0)) * 255).round().clamp(0, 255).to(torch.uint8))
    return ImageBatch(torch.stack(images), seeds=list(seeds))


def project_conftest(reference_seeds: str = "range(10000, 10400)", extra: str = "") -> str:
    """conftest.py text for a pytester project using the toy extractor and a toy reference named 'real'."""
    from pathlib import Path

    return (
        f"""
import os, sys
import pytest
sys.path.insert(0, {str(Path(__file__).parent)!r})
from toy import ToyExtractor, toy_images
from pytest_genquality import ReferenceStats

@pytest.fixture(scope="session")
def extractor():
    return ToyExtractor()

@pytest.fixture(scope="session")
def ref(extractor):
    return ReferenceStats.from_images(toy_images({reference_seeds}), extractor, name="real")
"""
        + extra
    )


def counting_extractor_conftest(reference_batch_size: int = 64) -> str:
    """A pytester project whose session ``inception`` is a ToyExtractor counting its calls (the batch
    sizes it saw, printed at session end as ``extractor calls: [...]``); ``TOY_EXTRACTOR_ID`` in the
    environment renames its id. The reference 'real' is built with that extractor."""
    return project_conftest(
        extra=f"""
CALLS = []

class CountingExtractor(ToyExtractor):
    def __init__(self):
        super().__init__()
        self.id = os.environ.get("TOY_EXTRACTOR_ID", self.id)

    def __call__(self, images):
        CALLS.append(len(images))
        return super().__call__(images)

@pytest.fixture(scope="session")
def inception():
    return CountingExtractor()

@pytest.fixture(scope="session")
def ref(inception):
    return ReferenceStats.from_images(toy_images(range(10000, 10400)), inception, name="real",
                                      batch_size={reference_batch_size})

def pytest_sessionfinish(session):
    print(f"\\nextractor calls: {{CALLS}}")
"""
    )


def pytester_project(pytester, monkeypatch, conftest: str, *, clear_env=(), **test_files):
    """A pytester project: ``conftest`` and ``test_files`` (name=text), with the toy environment
    variables in ``clear_env`` unset so each test starts from the unchanged model."""
    for name in clear_env:
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(conftest)
    pytester.makepyfile(**test_files)
    return pytester
