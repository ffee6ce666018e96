"""HPSv2 on a tiny seeded random open_clip model: parity with hpsv2's pipeline written out, loading, validation."""

import pytest
import torch

open_clip = pytest.importorskip("open_clip", reason="HPSv2 needs open-clip-torch (the hps extra)")

from pytest_genquality import ImageBatch  # noqa: E402
from pytest_genquality.features import HPSv2  # noqa: E402
from pytest_genquality.features.weights import WeightsNotFoundError  # noqa: E402

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
PROMPTS = ["a red cat", "the dog on a mat", "an astronaut riding a horse, oil painting", "two cups", "a bowl of ramen"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint as the authors save it: {'state_dict': ...}, here with DDP's 'module.' prefix."""
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY).eval()
    path = tmp_path_factory.mktemp("hps") / "hpsv2-random-seed-0.pt"
    torch.save({"state_dict": {f"module.{name}": tensor for name, tensor in model.state_dict().items()}}, path)
    return path, model


def images(n, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(
        0, 256, (n, 3, max(height // 4, 1), max(width // 4, 1)), generator=generator, dtype=torch.uint8
    )
    return torch.nn.functional.interpolate(base.float(), size=(height, width), mode="bilinear").round().to(torch.uint8)


def hpsv2_scores(model, batch, prompts, size=32):
    """hpsv2: ToTensor, ResizeMaxSize(size, fill=0) per image, Normalize; open_clip tokenizer; 100 * diag(img @ txt.T)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    prepared = []
    for image in batch:
        tensor = F.to_tensor(F.to_pil_image(image))
        height, width = tensor.shape[1:]
        scale = size / float(max(height, width))
        if scale != 1.0:
            new_size = tuple(round(dim * scale) for dim in (height, width))
            tensor = F.resize(tensor, new_size, InterpolationMode.BICUBIC)
            pad_h, pad_w = size - new_size[0], size - new_size[1]
            tensor = F.pad(tensor, padding=[pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
        prepared.append(F.normalize(tensor, open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD))
    tokens = open_clip.get_tokenizer("ViT-H-14")(prompts)
    with torch.no_grad():
        image_features = model.encode_image(torch.stack(prepared), normalize=True)
        text_features = model.encode_text(tokens, normalize=True)
    return torch.diagonal(image_features @ text_features.T * 100)


@pytest.mark.parametrize("height, width", [(32, 32), (64, 48), (30, 70), (16, 16)])
def test_matches_hpsv2s_pipeline(checkpoint, height, width):
    path, model = checkpoint
    batch = images(len(PROMPTS), height, width, seed=height + width)
    ours = HPSv2(path, architecture=TINY).score(batch, PROMPTS)
    theirs = hpsv2_scores(model, batch, PROMPTS)
    assert ours.shape == (len(PROMPTS),) and ours.dtype == torch.float32
    assert ours.double() == pytest.approx(theirs.double(), rel=1e-4, abs=1e-4)


def test_prompts_from_the_batch_id_and_versions(checkpoint):
    path, _ = checkpoint
    scorer = HPSv2(path, architecture=TINY)
    pixels = images(len(PROMPTS), 32, 32)
    assert torch.equal(scorer.score(ImageBatch(pixels, prompts=PROMPTS)), scorer.score(pixels, PROMPTS))
    assert scorer.id.startswith("hpsv2.0:random-seed-0-") and "open_clip-config-" in scorer.id
    assert HPSv2(path, version="v2.1", architecture=TINY).id.startswith("hpsv2.1:")


def test_missing_checkpoint_names_the_versions_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("GENQUALITY_WEIGHTS_DIR", str(tmp_path / "weights"))
    from pytest_genquality.features.score_weights import HPS_V2_1, resolve_score_weights

    with pytest.raises(WeightsNotFoundError, match=r"HPS_v2\.1_compressed\.pt not found") as caught:
        resolve_score_weights(HPS_V2_1, weights_dir=tmp_path / "weights")
    assert "https://huggingface.co/xswu/HPSv2/resolve/main/HPS_v2.1_compressed.pt" in str(caught.value)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"version": "v3"}, ValueError, "version: expected one of"),
        ({"architecture": "ViT-Nope"}, ValueError, "architecture: 'ViT-Nope' is not an open_clip model name"),
        (
            {"architecture": {"embed_dim": 16}},
            TypeError,
            "architecture: expected an open_clip model name or a config dict",
        ),
        ({"architecture": dict(TINY, embed_dim=8)}, ValueError, "does not fit the open_clip open_clip-config-"),
    ],
)
def test_invalid_arguments_are_named(checkpoint, kwargs, error, match):
    with pytest.raises(error, match=match):
        HPSv2(checkpoint[0], **{"architecture": TINY, **kwargs})


def test_invalid_inputs_are_named(checkpoint, tmp_path):
    scorer = HPSv2(checkpoint[0], architecture=TINY)
    with pytest.raises(ValueError, match="prompts: got 1 prompts for 2 images"):
        scorer.score(images(2, 32, 32), ["a cat"])
    with pytest.raises(TypeError, match="images: expected uint8 pixels"):
        scorer.score(torch.rand(2, 3, 32, 32), ["a", "b"])
    empty = tmp_path / "empty.pt"
    torch.save({}, empty)
    with pytest.raises(ValueError, match="holds no state dict"):
        HPSv2(empty, architecture=TINY)
