"""CLIP score against torchmetrics' CLIPScore on a tiny seeded random CLIP saved to disk.

torchmetrics 1.9 loads a local checkpoint only when the path contains "openai"
(``_get_clip_model_and_processor``), so the model is saved under such a directory name and
loaded by torchmetrics' own loader. With transformers 5, ``get_image_features`` returns a
ModelOutput and torchmetrics' CLIPScore fails on it (``.norm`` of a ModelOutput), so the model
torchmetrics loaded is handed back through its callable hook with the projection unwrapped.
"""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clip_helpers import build_tiny_clip  # noqa: E402

pytest.importorskip("transformers", reason="CLIP needs transformers")
clip_score_module = pytest.importorskip(
    "torchmetrics.multimodal.clip_score", reason="torchmetrics is the CLIP score peer"
)
tm_functional = pytest.importorskip(
    "torchmetrics.functional.multimodal.clip_score", reason="torchmetrics is the CLIP score peer"
)

from pytest_genquality.features import CLIPEmbedder  # noqa: E402
from pytest_genquality.metrics import clip_score  # noqa: E402

CAPTIONS = ["a red cat", "the dog", "a cat on the red mat", "the dog and the cat", "red red red", "a dog"]


class ProjectedFeatures(torch.nn.Module):
    """CLIPModel whose get_*_features return the projected tensor, as torchmetrics expects."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def get_image_features(self, *args, **kwargs):
        output = self.model.get_image_features(*args, **kwargs)
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    def get_text_features(self, *args, **kwargs):
        output = self.model.get_text_features(*args, **kwargs)
        return output if isinstance(output, torch.Tensor) else output.pooler_output


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "openai-tiny-clip-random-seed-0", seed=0)


def images(n, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 256, (n, 3, height // 4, width // 4), generator=generator, dtype=torch.uint8)
    return torch.nn.functional.interpolate(base.float(), size=(height, width), mode="bilinear").round().to(torch.uint8)


def torchmetrics_clip_score(clip_dir):
    model, processor = tm_functional._get_clip_model_and_processor(str(clip_dir))
    return clip_score_module.CLIPScore(model_name_or_path=lambda: (ProjectedFeatures(model), processor))


@pytest.mark.parametrize("height, width", [(48, 40), (32, 32), (20, 50)])
def test_clip_score_matches_torchmetrics(clip_dir, height, width):
    batch = images(len(CAPTIONS), height, width, seed=height)
    embedder = CLIPEmbedder(clip_dir)
    per_pair_ours = 100 * (embedder.embed_images(batch) * embedder.embed_texts(CAPTIONS)).sum(1)

    model, processor = tm_functional._get_clip_model_and_processor(str(clip_dir))
    with torch.no_grad():
        per_pair_theirs, _ = tm_functional._clip_score_update(
            list(batch), CAPTIONS, ProjectedFeatures(model), processor
        )
    assert per_pair_ours.double() == pytest.approx(per_pair_theirs.double(), rel=1e-4, abs=1e-4)

    ours = clip_score(embedder.embed_images(batch), embedder.embed_texts(CAPTIONS))
    with torch.no_grad():
        theirs = float(torchmetrics_clip_score(clip_dir)(list(batch), CAPTIONS))
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)


def test_floor_matches_torchmetrics_on_a_negative_mean(clip_dir):
    """Pairs chosen so the mean cosine is negative: both report 0."""
    embedder = CLIPEmbedder(clip_dir)
    candidates = images(24, 32, 32, seed=5)
    image_rows, text_rows = embedder.embed_images(candidates), embedder.embed_texts(CAPTIONS)
    cos = image_rows @ text_rows.T
    picks = [(int(cos[:, j].argmin()), j) for j in range(len(CAPTIONS))]
    batch = torch.stack([candidates[i] for i, _ in picks])
    assert float((image_rows[[i for i, _ in picks]] * text_rows).sum(1).mean()) < 0
    assert clip_score(embedder.embed_images(batch), text_rows) == 0.0
    with torch.no_grad():
        assert float(torchmetrics_clip_score(clip_dir)(list(batch), CAPTIONS)) == 0.0


def test_int64_images_as_torchmetrics_tests_make_them(clip_dir):
    """Mirrors torchmetrics tests/unittests/multimodal/test_clip_score.py, whose images are
    ``torch.randint(255, (N, 3, H, W))``: int64 levels, accepted as the same uint8 image."""
    levels = torch.randint(255, (len(CAPTIONS), 3, 32, 32), generator=torch.Generator().manual_seed(4))
    assert levels.dtype == torch.int64
    embedder = CLIPEmbedder(clip_dir)
    ours = clip_score(embedder.embed_images(levels), embedder.embed_texts(CAPTIONS))
    assert ours == clip_score(embedder.embed_images(levels.to(torch.uint8)), embedder.embed_texts(CAPTIONS))
    with torch.no_grad():
        theirs = float(torchmetrics_clip_score(clip_dir)(list(levels), CAPTIONS))
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-5)
