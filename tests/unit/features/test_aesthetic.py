"""LAION aesthetic predictor on a tiny seeded random CLIP and a random head of the authors' layout."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from clip_helpers import build_tiny_clip  # noqa: E402

pytest.importorskip("transformers", reason="CLIP needs transformers")

from pytest_genquality.features import AestheticPredictor, CLIPEmbedder  # noqa: E402
from pytest_genquality.features.weights import WeightsNotFoundError  # noqa: E402

TINY_PROJECTION = 24  # clip_helpers' projection_dim
WIDTHS = [(TINY_PROJECTION, 1024), (1024, 128), (128, 64), (64, 16), (16, 1)]
LINEAR_INDICES = [
    0,
    2,
    4,
    6,
    7,
]  # the authors' nn.Sequential: Linear, Dropout, Linear, Dropout, Linear, Dropout, Linear, Linear


def write_random_head(path, seed=0, input_dim=TINY_PROJECTION):
    """The authors' state-dict layout, written from plain tensors (not from the package's module)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for index, (width_in, width_out) in zip(LINEAR_INDICES, [(input_dim, 1024)] + WIDTHS[1:]):
        state[f"layers.{index}.weight"] = torch.randn(width_out, width_in, generator=generator) / width_in**0.5
        state[f"layers.{index}.bias"] = torch.randn(width_out, generator=generator) * 0.1
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip-random-seed-0", seed=0)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    return write_random_head(tmp_path_factory.mktemp("heads") / "laion-aesthetic-random-seed-0.pth")


def images(n, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 256, (n, 3, height // 4, width // 4), generator=generator, dtype=torch.uint8)
    return torch.nn.functional.interpolate(base.float(), size=(height, width), mode="bilinear").round().to(torch.uint8)


@pytest.mark.parametrize("height, width", [(32, 32), (48, 40)])
def test_scores_match_a_direct_computation_with_transformers(clip_dir, head, height, width):
    """CLIPProcessor + CLIPModel.get_image_features, L2 norm, then the five affine layers by hand."""
    from transformers import CLIPModel, CLIPProcessor

    path, state = head
    batch = images(5, height, width, seed=height)
    ours = AestheticPredictor(path, clip=clip_dir).score(batch)

    model, processor = CLIPModel.from_pretrained(clip_dir).eval(), CLIPProcessor.from_pretrained(clip_dir)
    with torch.no_grad():
        output = model.get_image_features(**processor(images=list(batch), return_tensors="pt"))
    embeddings = output if isinstance(output, torch.Tensor) else output.pooler_output
    x = embeddings / embeddings.norm(dim=-1, keepdim=True)
    for index in LINEAR_INDICES:
        x = x @ state[f"layers.{index}.weight"].T + state[f"layers.{index}.bias"]
    assert ours.shape == (5,) and ours.dtype == torch.float32
    assert ours.double() == pytest.approx(x[:, 0].double(), rel=1e-4, abs=1e-5)


def test_id_names_the_head_and_the_clip_and_an_embedder_is_shared(clip_dir, head):
    embedder = CLIPEmbedder(clip_dir)
    predictor = AestheticPredictor(head[0], clip=embedder)
    assert predictor.embedder is embedder
    assert predictor.id.startswith("laion-aesthetic:random-seed-0-") and predictor.id.endswith(embedder.id)
    batch = images(3, 32, 32)
    assert torch.equal(predictor(batch)["aesthetic"], predictor.score(batch))
    other, _ = write_random_head(head[0].parent / "laion-aesthetic-random-seed-1.pth", seed=1)
    assert AestheticPredictor(other, clip=embedder).id != predictor.id


def test_found_in_the_weights_dir(clip_dir, head, tmp_path):
    official_name = tmp_path / "sac+logos+ava1-l14-linearMSE.pth"
    official_name.write_bytes(head[0].read_bytes())
    from pytest_genquality.features.score_weights import LAION_AESTHETIC, resolve_score_weights

    assert resolve_score_weights(LAION_AESTHETIC, weights_dir=tmp_path) == official_name


def test_missing_head_names_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    from pytest_genquality.features.score_weights import LAION_AESTHETIC, resolve_score_weights

    with pytest.raises(WeightsNotFoundError) as caught:
        resolve_score_weights(LAION_AESTHETIC, weights_dir=tmp_path / "weights")
    message = str(caught.value)
    assert "sac+logos+ava1-l14-linearMSE.pth not found" in message
    assert str(tmp_path / "weights" / "sac+logos+ava1-l14-linearMSE.pth") in message
    assert "improved-aesthetic-predictor" in message and "curl -L -o" in message and "GENQUALITY_WEIGHTS_DIR" in message
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        AestheticPredictor(tmp_path / "nowhere.pth")


def test_wrong_files_and_widths_are_named(clip_dir, tmp_path):
    wrong_keys = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(1, 768)}, wrong_keys)
    with pytest.raises(ValueError, match="not an improved-aesthetic-predictor head"):
        AestheticPredictor(wrong_keys, clip=clip_dir)
    wide, _ = write_random_head(tmp_path / "head-768.pth", input_dim=768)
    with pytest.raises(ValueError, match="embeds into 24 dimensions but the aesthetic head head-768.pth expects 768"):
        AestheticPredictor(wide, clip=clip_dir)
    _, state = write_random_head(tmp_path / "broken.pth")
    del state["layers.7.bias"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="does not fit the aesthetic MLP"):
        AestheticPredictor(tmp_path / "broken.pth", clip=clip_dir)


def test_invalid_images_are_named(clip_dir, head):
    predictor = AestheticPredictor(head[0], clip=clip_dir)
    with pytest.raises(TypeError, match="images|batch"):
        predictor.score(torch.rand(2, 3, 32, 32))
