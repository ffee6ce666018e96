"""PickScore on a tiny seeded random CLIPModel: parity with the authors' README computation, loading, validation."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from clip_helpers import IMAGE_SIZE, build_tiny_clip  # noqa: E402

pytest.importorskip("transformers", reason="PickScore needs transformers")

from pytest_genquality import ImageBatch  # noqa: E402
from pytest_genquality.features import CLIPEmbedder, PickScore  # noqa: E402
from pytest_genquality.features.clip import CLIPModelNotFoundError  # noqa: E402

PROMPTS = ["a red cat", "the dog", "a cat on the red mat", "the dog and the cat", "red red red"]
MAX_TOKENS = 40  # clip_helpers' text context


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip-random-seed-0", seed=0)


def images(n, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 256, (n, 3, height // 4, width // 4), generator=generator, dtype=torch.uint8)
    return torch.nn.functional.interpolate(base.float(), size=(height, width), mode="bilinear").round().to(torch.uint8)


def readme_scores(model_dir, processor_dir, batch, prompts):
    """The PickScore README: processor(...), get_*_features, L2 norm, logit_scale.exp() * cosine (per pair here)."""
    from transformers import AutoModel, AutoProcessor

    processor, model = AutoProcessor.from_pretrained(processor_dir), AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        image_inputs = processor(images=list(batch), return_tensors="pt")
        text_inputs = processor(text=prompts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        image_embs, text_embs = model.get_image_features(**image_inputs), model.get_text_features(**text_inputs)
    image_embs = image_embs if isinstance(image_embs, torch.Tensor) else image_embs.pooler_output
    text_embs = text_embs if isinstance(text_embs, torch.Tensor) else text_embs.pooler_output
    image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
    text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
    return (model.logit_scale.exp() * (text_embs @ image_embs.T).diagonal()).detach()


@pytest.mark.parametrize("height, width", [(32, 32), (48, 40), (20, 50)])
def test_matches_the_authors_readme_computation(clip_dir, height, width):
    batch = images(len(PROMPTS), height, width, seed=height)
    ours = PickScore(clip_dir).score(batch, PROMPTS)
    theirs = readme_scores(clip_dir, clip_dir, batch, PROMPTS)
    assert ours.shape == (len(PROMPTS),) and ours.dtype == torch.float32
    assert ours.double() == pytest.approx(theirs.double(), rel=1e-4, abs=1e-4)


def test_a_separate_processor_is_used_as_the_authors_load_laions(clip_dir, tmp_path):
    """PickScore_v1 is scored with another repository's processor; here one with other normalisation."""
    from transformers import CLIPImageProcessor, CLIPProcessor, CLIPTokenizer

    other = tmp_path / "other-processor"
    CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": IMAGE_SIZE},
            crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        ),
        tokenizer=CLIPTokenizer.from_pretrained(clip_dir),
    ).save_pretrained(other)
    batch = images(len(PROMPTS), 48, 40, seed=1)
    with_other = PickScore(clip_dir, processor=other).score(batch, PROMPTS)
    assert with_other.double() == pytest.approx(
        readme_scores(clip_dir, other, batch, PROMPTS).double(), rel=1e-4, abs=1e-4
    )
    assert not torch.allclose(with_other, PickScore(clip_dir).score(batch, PROMPTS))
    from_object = PickScore(clip_dir, processor=CLIPProcessor.from_pretrained(other)).score(batch, PROMPTS)
    assert torch.equal(from_object, with_other)


def test_prompts_come_from_the_batch_and_an_embedder_is_shared(clip_dir):
    embedder = CLIPEmbedder(clip_dir)
    scorer = PickScore(embedder)
    assert scorer.embedder is embedder and scorer.id == f"pickscore:{embedder.id}"
    pixels = images(len(PROMPTS), 32, 32)
    batch = ImageBatch(pixels, prompts=PROMPTS)
    assert torch.equal(scorer.score(batch), scorer.score(pixels, PROMPTS))
    scale = embedder.model.logit_scale.detach().exp()
    cosines = (embedder.embed_images(pixels) * embedder.embed_texts(PROMPTS)).sum(1)
    assert scorer.score(batch) == pytest.approx(scale * cosines, rel=1e-6)


def test_missing_model_offline_names_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        CLIPModelNotFoundError, match="CLIP model 'genquality-test/no-such-pickscore'.*offline mode forbids downloads"
    ):
        PickScore("genquality-test/no-such-pickscore", processor="genquality-test/no-such-processor")


@pytest.mark.parametrize(
    "prompts, error, match",
    [
        (None, ValueError, "prompts: none given and the images carry none"),
        ("a cat", TypeError, "prompts: expected a list of strings"),
        (["a cat"], ValueError, "prompts: got 1 prompts for 2 images"),
        ([3, 4], TypeError, "texts: expected strings"),
    ],
)
def test_invalid_prompts_are_named(clip_dir, prompts, error, match):
    with pytest.raises(error, match=match):
        PickScore(clip_dir).score(images(2, 32, 32), prompts)


def test_missing_processor_offline_names_the_processor(clip_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CLIPModelNotFoundError, match="processor: CLIP processor 'genquality-test/no-such-processor'"):
        PickScore(clip_dir, processor="genquality-test/no-such-processor")


def test_a_processor_with_a_ready_model_is_refused(clip_dir):
    with pytest.raises(TypeError, match="processor: only used with a hub id or a directory as model; a CLIPEmbedder"):
        PickScore(CLIPEmbedder(clip_dir), processor=clip_dir)
