"""Shared set-up of the example suites: the FID Inception, a CLIP embedder, reference statistics.

In a real repository this file is a few lines: the official weights sit in the torch hub cache
(or --gen-weights-dir), the reference statistics were built once with
``genquality build-ref data/val --name demo-real-32`` and committed, and the ``inception`` and
``clip`` fixtures of the plugin are used as they are.

Here, offline and without those files, it builds stand-ins of the real architectures with
seeded random weights, and says so loudly in the session header: their numbers exercise every
line of the suites but are NOT comparable with published FID or CLIP scores. The plugin itself
never makes that substitution.
"""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from digits_suite.digits_variants import VARIANTS
from pytest_genquality import ImageBatch, ReferenceStats, WeightsNotFoundError
from pytest_genquality.features import CLIPEmbedder, InceptionFID, build_random_inception_weights
from pytest_genquality.features.weights import resolve_weights

DEMO_DIR = Path(__file__).parent / ".demo-weights"  # git-ignored, rebuilt on a fresh checkout
REFERENCE = "demo-real-32"


def demo_inception_weights() -> tuple[Path, bool]:
    """(weights file, is_official): the official file when found, else seeded random weights."""
    try:
        return resolve_weights("inception-fid", offline=True), True
    except WeightsNotFoundError:
        path = DEMO_DIR / "pt_inception-random-seed-0.pth"
        if not path.is_file():
            build_random_inception_weights(path, seed=0)
        return path, False


def pytest_addoption(parser):
    """Defined here, in the rootdir's conftest, so that ``pytest examples --digits-variant=...`` knows it."""
    parser.addoption(
        "--digits-variant",
        choices=VARIANTS,
        default="committed",
        help="digits suite: run it on the committed model (default) or on a realistic regression "
        "(see digits_suite/digits_variants.py)",
    )


def pytest_report_header(config):
    _, official = demo_inception_weights()
    if official:
        return ["genquality examples: official FID Inception weights found"]
    return [
        "genquality examples: DEMO MODE — official FID Inception weights not found; the ddpm and text-to-image "
        "suites use SEEDED RANDOM weights (random-seed-0): their numbers are NOT comparable with published FID. "
        "The digits suite measures with its own trained digit classifier and is unaffected."
    ]


@pytest.fixture(scope="session")
def inception(gen_device):
    """The plugin's fixture of the same name, with the demo fallback described above."""
    path, _ = demo_inception_weights()
    return InceptionFID(path, device=gen_device, batch_size=32)


@pytest.fixture(scope="session")
def clip(gen_device, tmp_path_factory):
    """A tiny random CLIP of the real architecture; a real suite uses the plugin's `clip` fixture."""
    from transformers import CLIPConfig, CLIPModel

    from demo_tokenizer import small_clip_tokenizer

    tokenizer = small_clip_tokenizer(tmp_path_factory.mktemp("clip-tokenizer"))
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
            projection_dim=32,
        ),
        projection_dim=32,
    )
    return CLIPEmbedder((CLIPModel(config).eval(), tokenizer), device=gen_device)


def synthetic_real_images(count: int, size: int = 32) -> ImageBatch:
    """The stand-in "training data": smooth colour fields, one per seed (a real suite reads a folder)."""
    images = []
    for seed in range(count):
        generator = torch.Generator().manual_seed(100_000 + seed)
        coarse = torch.rand(3, 4, 4, generator=generator)
        images.append(F.interpolate(coarse[None], size=(size, size), mode="bicubic", align_corners=False)[0])
    pixels = (torch.stack(images).clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageBatch(pixels, seeds=range(100_000, 100_000 + count))


@pytest.fixture(scope="session")
def gen_refs(gen_store, inception):
    """Stored references, built on first use when absent (a real suite commits them)."""
    from pytest_genquality.plugin import ReferenceMapping

    try:
        stored = gen_store.load_reference(REFERENCE)
    except KeyError:
        stored = None
    if stored is None or stored.extractor_id != inception.id:
        stats = ReferenceStats.from_images(synthetic_real_images(128), inception, batch_size=32)
        gen_store.save_reference(REFERENCE, stats, overwrite=True)
    return ReferenceMapping(gen_store)
