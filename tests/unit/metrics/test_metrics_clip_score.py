"""CLIP score properties and CLIPEmbedder behaviour on a tiny random CLIP."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from clip_helpers import IMAGE_SIZE, build_tiny_clip  # noqa: E402

from pytest_genquality import settings
from pytest_genquality.batch import ImageBatch
from pytest_genquality.metrics import clip_score


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_identical_embeddings_score_100_and_opposite_ones_0():
    rows = unit(np.random.default_rng(0).normal(size=(10, 16)))
    assert clip_score(rows, rows) == pytest.approx(100.0, rel=1e-12)
    assert clip_score(rows, -rows) == 0.0


def test_score_is_the_mean_cosine_times_100_and_ignores_row_scale():
    rng = np.random.default_rng(1)
    images, texts = rng.normal(size=(8, 16)) + 1.0, rng.normal(size=(8, 16)) + 1.0
    expected = 100 * np.mean(np.sum(unit(images) * unit(texts), axis=1))
    assert expected > 0
    assert clip_score(images * 7.0, texts) == pytest.approx(expected, rel=1e-12)
    assert clip_score(torch.from_numpy(texts), torch.from_numpy(images)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "img_emb, txt_emb, error, match",
    [
        (np.ones((4, 8)), np.ones((5, 8)), ValueError, "txt_emb: has 5 rows but img_emb has 4"),
        (np.ones((4, 8)), np.ones((4, 6)), ValueError, "txt_emb: has 6 feature dimensions but img_emb has 8"),
        (np.zeros((4, 8)), np.ones((4, 8)), ValueError, "img_emb: row 0 is all zeros"),
        (np.full((4, 8), np.nan), np.ones((4, 8)), ValueError, "img_emb: contains non-finite"),
        (np.ones(8), np.ones(8), ValueError, "img_emb: expected a 2-D"),
        (["a"], np.ones((1, 8)), TypeError, "img_emb: expected a numpy array"),
    ],
)
def test_invalid_inputs_are_named(img_emb, txt_emb, error, match):
    with pytest.raises(error, match=match):
        clip_score(img_emb, txt_emb)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    pytest.importorskip("transformers", reason="CLIPEmbedder needs transformers")
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip-random-seed-0", seed=0)


def images(n=3, height=40, width=36, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, height, width), generator=generator, dtype=torch.uint8)


def test_embeddings_are_unit_rows_and_batch_independent(clip_dir, monkeypatch):
    from pytest_genquality.features import CLIPEmbedder
    import importlib

    embedder = CLIPEmbedder(clip_dir)
    rows = embedder.embed_images(ImageBatch(images(5)))
    assert rows.dtype == torch.float32 and rows.shape == (5, 24)
    assert rows.norm(dim=1) == pytest.approx(torch.ones(5), abs=1e-6)
    texts = embedder.embed_texts(["a red cat", "the dog", "a red cat"])
    assert texts[0] == pytest.approx(texts[2], abs=1e-6)
    monkeypatch.setattr(importlib.import_module("pytest_genquality.features.clip"), "EMBED_BATCH_SIZE", 2)
    assert embedder.embed_images(images(5)) == pytest.approx(rows, abs=1e-6)


def test_a_pair_and_a_directory_give_the_same_embeddings_and_id(clip_dir):
    from transformers import CLIPModel, CLIPProcessor

    from pytest_genquality.features import CLIPEmbedder

    from_dir = CLIPEmbedder(clip_dir)
    from_pair = CLIPEmbedder((CLIPModel.from_pretrained(clip_dir), CLIPProcessor.from_pretrained(clip_dir)))
    assert from_pair.embed_images(images()) == pytest.approx(from_dir.embed_images(images()), abs=1e-6)
    assert from_dir.id.split(":")[-1] == from_pair.id.split(":")[-1]
    assert from_dir.id.startswith("clip:tiny-clip-random-seed-0:")


def test_pair_with_only_a_tokenizer_uses_the_model_image_size(clip_dir):
    from transformers import CLIPModel, CLIPProcessor

    from pytest_genquality.features import CLIPEmbedder

    processor = CLIPProcessor.from_pretrained(clip_dir)
    with_tokenizer = CLIPEmbedder((CLIPModel.from_pretrained(clip_dir), processor.tokenizer))
    assert with_tokenizer.preprocess.crop_height == IMAGE_SIZE
    assert with_tokenizer.embed_images(images()) == pytest.approx(
        CLIPEmbedder(clip_dir).embed_images(images()), abs=1e-6
    )


def test_different_weights_give_a_different_id(clip_dir, tmp_path):
    from pytest_genquality.features import CLIPEmbedder

    other = build_tiny_clip(tmp_path / "tiny-clip-random-seed-0", seed=1)
    assert CLIPEmbedder(other).id != CLIPEmbedder(clip_dir).id


def test_missing_model_offline_names_the_id_the_cache_and_the_fix(monkeypatch):
    pytest.importorskip("transformers", reason="CLIPEmbedder needs transformers")
    from pytest_genquality.features import CLIPEmbedder

    settings.configure(settings.RunSettings(offline=True))
    try:
        with pytest.raises(FileNotFoundError) as raised:
            CLIPEmbedder("genquality-test/no-such-clip")
    finally:
        settings.configure(None)
    message = str(raised.value)
    assert "'genquality-test/no-such-clip'" in message and "offline" in message
    assert "cache searched:" in message and "hf download genquality-test/no-such-clip --include" in message


def test_invalid_model_and_texts_are_named(clip_dir):
    from pytest_genquality.features import CLIPEmbedder

    with pytest.raises(TypeError, match="model: expected a hub id, a directory or a"):
        CLIPEmbedder(42)
    with pytest.raises(TypeError, match="model: the first item should be a transformers CLIPModel"):
        CLIPEmbedder((object(), object()))
    embedder = CLIPEmbedder(clip_dir)
    with pytest.raises(TypeError, match="texts: expected a list of strings, got a single string"):
        embedder.embed_texts("a cat")
    with pytest.raises(ValueError, match="texts: got an empty list"):
        embedder.embed_texts([])
    with pytest.raises(TypeError, match="batch: expected uint8 pixels"):
        embedder.embed_images(images().float())


def test_a_caption_longer_than_the_context_is_named_once(clip_dir):
    """The tiny CLIP has a 40-token context (OpenAI CLIP: 77); one warning per long caption."""
    import warnings

    from pytest_genquality.features import CLIPEmbedder
    from pytest_genquality.features.clip import CaptionTruncatedWarning

    embedder = CLIPEmbedder(clip_dir)
    long_caption = "a red cat on a mat " * 4
    other_long = "the dog " * 30
    with pytest.warns(CaptionTruncatedWarning) as caught:
        first = embedder.embed_texts([long_caption, "the dog", long_caption, other_long])
    messages = [str(w.message) for w in caught if issubclass(w.category, CaptionTruncatedWarning)]
    assert len(messages) == 2
    assert messages[0].startswith(f"caption {long_caption!r} is ") and "40-token context" in messages[0]
    assert "first 38 tokens are embedded (with the end-of-text token)" in messages[0]
    assert repr(other_long[:120] + "…") in messages[1]  # a long caption is named by its first 120 characters
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptionTruncatedWarning)  # already named: silent now
        again = embedder.embed_texts([long_caption, "the dog"])
    assert again[0] == pytest.approx(first[0], abs=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptionTruncatedWarning)
        CLIPEmbedder(clip_dir).embed_texts(["a red cat", "the dog " * 4])  # short captions: no warning
