"""DINOv2Embedder against dgm-eval's DINOv2 encoder recipe, on the same (tiny random) weights.

dgm-eval (layer6ai-labs/dgm-eval, Stein et al. 2023) is not packaged and its encoder loads the
torch hub model, which cannot be downloaded here; so the test rebuilds its
``DINOv2Encoder.transform`` (``clean_resize=False``) from the same torchvision calls on PIL
images (``Resize((224, 224), BICUBIC)``, ``ToTensor``, ``Normalize`` with ImageNet mean/std) and
takes the CLS token after the final layer norm, as its ``model(x)`` returns. Mirrors the
per-image feature check of torch-fidelity's tests/torch_pure/fe_dinov2/test_dinov2_fe.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers.models.dinov2", reason="DINOv2 needs transformers")
transforms = pytest.importorskip("torchvision.transforms", reason="dgm-eval's preprocessing is torchvision's")

sys.path.insert(0, str(Path(__file__).parent.parent))
from dinov2_helpers import build_tiny_dinov2  # noqa: E402

from pytest_genquality.features import DINOv2Embedder  # noqa: E402

FEATURE_TOLERANCE = 1e-5  # max |diff| / max |reference|: identical pixels, same model


def dgm_eval_transform(image):
    """dgm_eval/models/dinov2.py DINOv2Encoder.transform with clean_resize=False."""
    resized = transforms.Compose(
        [
            transforms.Resize((224, 224), transforms.InterpolationMode.BICUBIC),
            transforms.ToTensor(),
        ]
    )(image)
    return transforms.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))(resized)


@pytest.mark.parametrize("height, width", [(32, 32), (300, 257), (224, 224)])
def test_features_match_dgm_eval_recipe(tmp_path, height, width):
    from PIL import Image
    from transformers import Dinov2Model

    model_dir = build_tiny_dinov2(tmp_path / "dinov2", seed=0)
    images = torch.randint(
        0, 256, (3, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(height + width)
    )
    pil_images = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in images]
    pixels = torch.stack([dgm_eval_transform(image) for image in pil_images]).float()
    with torch.no_grad():
        theirs = Dinov2Model.from_pretrained(model_dir).eval()(pixel_values=pixels).pooler_output
    ours = DINOv2Embedder(model_dir)(images)["pool"]
    assert ours.shape == theirs.shape == (3, 32)
    assert float((ours - theirs).abs().max() / theirs.abs().max()) <= FEATURE_TOLERANCE
