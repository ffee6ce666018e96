"""DINOv2Embedder: outputs, id, loading errors, and its use by FID/KID/precision-recall and build-ref.

Pretrained weights cannot be downloaded here: a tiny seeded random Dinov2Model of the real
architecture stands in (tests/dinov2_helpers.py). dgm-eval parity is in tests/parity/test_dinov2_parity.py.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers.models.dinov2", reason="DINOv2 needs transformers")

from dinov2_helpers import build_tiny_dinov2  # noqa: E402

from pytest_genquality import ImageBatch, settings  # noqa: E402
from pytest_genquality.features import DINOv2Embedder  # noqa: E402
from pytest_genquality.features.dinov2 import DINOv2ModelNotFoundError, dgm_eval_pixels  # noqa: E402
from pytest_genquality.metrics import fid, kid, precision_recall  # noqa: E402
from pytest_genquality.reference import ReferenceStats  # noqa: E402


def random_images(count: int, size: int, seed: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (count, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def smooth_images(count: int, size: int, seed: int, brightness: float = 1.0) -> torch.Tensor:
    coarse = torch.rand(count, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    field = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return (field * brightness * 255).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_dinov2(tmp_path_factory.mktemp("dinov2-seed-0"), seed=0)


@pytest.fixture(scope="module")
def embedder(model_dir):
    return DINOv2Embedder(model_dir, batch_size=4)


def test_features_are_cls_rows_of_the_hidden_size(embedder):
    features = embedder(random_images(5, 40, seed=1))
    assert set(features) == {"pool"} and embedder.feature_dims == {"pool": 32}
    rows = features["pool"]
    assert rows.shape == (5, 32) and rows.dtype == torch.float32 and rows.device.type == "cpu"
    assert float(rows.std(dim=0).min()) > 0  # images differ, so do their embeddings


def test_features_are_the_models_pooler_output_on_dgm_eval_pixels(embedder, model_dir):
    from transformers import Dinov2Model

    images = random_images(3, 50, seed=2)
    with torch.no_grad():
        expected = Dinov2Model.from_pretrained(model_dir)(pixel_values=dgm_eval_pixels(images))
    assert torch.allclose(embedder(images)["pool"], expected.pooler_output, atol=1e-6)
    # pooler_output is the CLS token after the final layer norm (dgm-eval's x_norm_clstoken)
    assert torch.allclose(expected.pooler_output, expected.last_hidden_state[:, 0], atol=1e-6)


def test_batch_size_and_image_batch_do_not_change_the_features(embedder, model_dir):
    images = random_images(5, 30, seed=3)
    other = DINOv2Embedder(model_dir, batch_size=2)
    assert torch.allclose(embedder(images)["pool"], other(ImageBatch(images))["pool"], atol=1e-5)


def test_pixels_are_224_and_imagenet_normalised():
    black_white = torch.zeros(2, 3, 17, 31, dtype=torch.uint8)
    black_white[1] = 255
    pixels = dgm_eval_pixels(black_white)
    assert pixels.shape == (2, 3, 224, 224)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(pixels[0, :, 0, 0], -mean / std, atol=1e-6)
    assert torch.allclose(pixels[1, :, 0, 0], (1 - mean) / std, atol=1e-6)


def test_id_names_model_weights_and_preprocessing(embedder, model_dir, tmp_path):
    assert embedder.id.startswith(f"dinov2:{model_dir.name}:") and embedder.id.endswith("/dgm-eval")
    other = DINOv2Embedder(build_tiny_dinov2(tmp_path / model_dir.name, seed=1))
    assert other.id != embedder.id  # same name, other weights


def test_a_model_object_is_accepted_and_other_models_refused(model_dir):
    from transformers import Dinov2Model

    assert DINOv2Embedder(Dinov2Model.from_pretrained(model_dir)).feature_dims == {"pool": 32}
    with pytest.raises(TypeError, match="model: expected a transformers Dinov2Model, got Linear"):
        DINOv2Embedder(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="model: expected a hub id, a directory or a Dinov2Model, got int"):
        DINOv2Embedder(3)
    with pytest.raises(ValueError, match="batch_size: expected a positive int, got 0"):
        DINOv2Embedder(model_dir, batch_size=0)


def test_missing_model_offline_names_the_cache_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("GENQUALITY_OFFLINE", "1")
    settings.configure(None)
    try:
        with pytest.raises(
            DINOv2ModelNotFoundError, match=r"(?s)facebook/dinov2-large.*offline.*huggingface-cli download"
        ):
            DINOv2Embedder("facebook/dinov2-large")
    finally:
        settings.configure(None)


def test_bad_images_are_rejected_with_the_argument_named(embedder):
    with pytest.raises(TypeError, match="images: expected uint8 pixels"):
        embedder(torch.rand(2, 3, 32, 32))


def test_fd_dinov2_kid_and_precision_recall_from_a_reference(embedder):
    """FD_DINOv2 is FID's Frechet distance on DINOv2 features: same pipeline, other extractor."""
    real = smooth_images(40, 32, seed=10)
    reference = ReferenceStats.from_images(real, embedder, batch_size=16, name="real")
    assert reference.extractor_id == embedder.id and reference.features.shape == (40, 32)
    same = ImageBatch(smooth_images(40, 32, seed=11))
    darker = ImageBatch(smooth_images(40, 32, seed=11, brightness=0.3))
    fd_same, fd_darker = fid(same, reference, extractor=embedder), fid(darker, reference, extractor=embedder)
    assert 0 < fd_same < fd_darker
    rows = embedder(darker)["pool"].numpy()
    assert kid(reference.features, rows, subsets=5, subset_size=30)[0] > 0
    assert 0 <= precision_recall(reference.features, rows, k=3).recall <= 1


# --------------------------------------------------------------------------- build-ref and assertions by name

PROJECT_TESTS = """
from pytest_genquality import assert_cmmd_below, assert_fid_below, assert_kid_below, assert_recall_above
from toy import toy_images

def test_fd_dinov2(dino):
    batch = toy_images(range(40), size=32)
    result = assert_fid_below(batch, "real-dino", 1e9, extractor=dino)
    assert result.extractor_id == dino.id and result.value > 0
    assert_kid_below(batch, "real-dino", 1e9, extractor=dino, subsets=5, subset_size=20)
    assert_recall_above(batch, "real-dino", 0.0, extractor=dino)

def test_cmmd_by_reference_name(embedder):
    result = assert_cmmd_below(toy_images(range(40), size=32), "real-clip", 1e6, embedder=embedder)
    assert result.extractor_id == embedder.id
"""


def test_build_ref_dinov2_and_clip_references_serve_assertions_by_name(pytester, model_dir, tmp_path):
    # pytester's in-process runs drop modules first imported inside them: import transformers' models here.
    import transformers.models.clip.modeling_clip  # noqa: F401
    import transformers.models.dinov2.modeling_dinov2  # noqa: F401
    from clip_helpers import build_tiny_clip
    from toy import project_conftest, toy_images

    from pytest_genquality.cli import main

    clip_dir = build_tiny_clip(tmp_path / "clip")
    images_dir = tmp_path / "real"
    images_dir.mkdir()
    for seed, image in zip(range(1000, 1048), toy_images(range(1000, 1048), size=32).to_pil()):
        image.save(images_dir / f"{seed}.png")
    store = str(pytester.path / ".genquality")
    for name, extractor, model in (("real-dino", "dinov2", model_dir), ("real-clip", "clip", clip_dir)):
        assert (
            main(
                [
                    "build-ref",
                    str(images_dir),
                    "--name",
                    name,
                    "--extractor",
                    extractor,
                    "--model",
                    str(model),
                    "--gen-store",
                    store,
                    "--gen-device",
                    "cpu",
                    "--batch-size",
                    "16",
                ]
            )
            == 0
        )
    pytester.makeconftest(
        project_conftest(
            extra=f"""
@pytest.fixture(scope="session")
def dino():
    from pytest_genquality.features import DINOv2Embedder
    return DINOv2Embedder({str(model_dir)!r})

@pytest.fixture(scope="session")
def embedder():
    from pytest_genquality.features import CLIPEmbedder
    return CLIPEmbedder({str(clip_dir)!r})
"""
        )
    )
    pytester.makepyfile(test_refs=PROJECT_TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=2)
    pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--extractor", "clip", "--dims", "64"], "--dims only apply to --extractor inception"),
        (["--extractor", "dinov2", "--resize", "tf1", "--weights", "w.pth"], "--weights, --resize only apply"),
        (["--model", "facebook/dinov2-large"], "--model names a CLIP or DINOv2 checkpoint; Inception takes --weights"),
    ],
)
def test_build_ref_refuses_options_the_extractor_does_not_take(tmp_path, capsys, extra, message):
    from pytest_genquality.cli import main

    assert main(["build-ref", str(tmp_path), "--name", "x", "--gen-store", str(tmp_path / "s"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_inception_score_with_an_extractor_without_logits_names_the_fix(embedder):
    from pytest_genquality.checks.assertions import batch_features

    with pytest.raises(ValueError, match=r"extractor: dinov2:.* gives \['pool'\] features, not 'logits_unbiased'"):
        batch_features(ImageBatch(random_images(2, 16, seed=9)), embedder, "logits_unbiased")
