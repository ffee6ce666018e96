"""Quality checks of a text-to-image model, run on every merge request.

Each prompt is rendered with several fixed seeds: ``seeds=range(8)`` with 4 prompts gives
image i the prompt ``PROMPTS[i % 4]`` (prompts cycle when their count divides the number of
seeds), so every prompt gets 2 images and ``batch.prompts`` says which is which.

Run:  pytest examples/text_to_image_suite
      pytest examples/text_to_image_suite --gen-device=cuda --gen-cache   # reruns read cached images
"""

import torch

from pytest_genquality import assert_clip_score_above, assert_kid_below, assert_no_regression

PROMPTS = [
    "a red bicycle leaning on a wall",
    "a bowl of ramen, top view",
    "a lighthouse at dusk",
    "a cat asleep on a keyboard",
]
SEEDS = range(8)
SETTINGS = {"num_inference_steps": 3, "guidance_scale": 5.0}  # production: 25–50 steps, guidance 7.5


def test_every_prompt_gets_its_images(generate, t2i_pipeline):
    batch = generate(t2i_pipeline, prompts=PROMPTS, seeds=SEEDS, **SETTINGS)
    assert batch.images.shape == (8, 3, 32, 32)
    assert batch.prompts == PROMPTS * 2
    assert batch.meta["kwargs"] == SETTINGS


def test_same_seeds_and_prompts_give_the_same_images(generate, t2i_pipeline):
    first = generate(t2i_pipeline, prompts=PROMPTS, seeds=SEEDS, **SETTINGS)
    again = generate(t2i_pipeline, prompts=PROMPTS, seeds=SEEDS, batch_size=8, **SETTINGS)
    assert torch.equal(first.images, again.images)


def test_the_prompt_steers_the_image(generate, t2i_pipeline):
    """Same seed, different prompts: a model ignoring its text encoder would fail this."""
    batch = generate(t2i_pipeline, prompts=PROMPTS, seeds=[0, 0, 0, 0], **SETTINGS)
    images = batch.images.float()
    for other in range(1, len(PROMPTS)):
        assert (images[0] - images[other]).abs().mean() > 0.5, f"prompt {PROMPTS[other]!r} changed nothing"


def test_contact_sheet_for_review(generate, t2i_pipeline, tmp_path):
    batch = generate(t2i_pipeline, prompts=PROMPTS, seeds=SEEDS, **SETTINGS)
    sheet = batch.grid(cols=len(PROMPTS))  # one column per prompt
    sheet.save(tmp_path / "t2i_samples.png")
    assert sheet.size == (4 * 34 + 2, 2 * 34 + 2)


def test_prompt_alignment_and_distribution(generate, t2i_pipeline, gen_refs, inception, clip):
    """CLIP score (torchmetrics' 0-100 scale) against each image's own prompt, and KID to the data.

    (embedder=/extractor= only because the examples may run on demo weights; a real suite uses
    the plugin's clip and inception fixtures, which the assertions pick by default.)
    """
    batch = generate(t2i_pipeline, prompts=PROMPTS, seeds=range(32), **SETTINGS)
    assert_clip_score_above(batch, 0.0, embedder=clip)
    assert_kid_below(
        batch, gen_refs["demo-real-32"], 100_000.0, extractor=inception, subset_size=32
    )  # demo-weights scale


def test_images_match_the_baseline_images(generate, t2i_pipeline):
    batch = generate(t2i_pipeline, prompts=PROMPTS, seeds=SEEDS, **SETTINGS)
    assert_no_regression(batch, "ssim", min_value=0.99)
