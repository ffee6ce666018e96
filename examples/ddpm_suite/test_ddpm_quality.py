"""Quality checks of an unconditional diffusion model, run on every merge request.

The `generate` fixture (pytest-genquality) makes one image per seed with its own generator,
so the same seeds give the same images on every run, whatever the batch size: a failing
check is a change of the model, never a change of the random draw.

Run:  pytest examples/ddpm_suite                (CPU)
      pytest examples/ddpm_suite --gen-device=cuda --gen-cache
"""

import torch

SEEDS = range(16)
STEPS = 4  # a real suite uses the sampler's production setting, e.g. 50 DDIM or 1000 DDPM steps


def test_images_have_the_trained_resolution(generate, ddpm_pipeline):
    batch = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    assert batch.images.shape == (16, 3, 32, 32)
    assert batch.images.dtype == torch.uint8
    assert batch.seeds == list(SEEDS)


def test_same_seeds_give_the_same_images(generate, ddpm_pipeline):
    first = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    again = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    assert torch.equal(first.images, again.images)
    assert first.meta["model_fingerprint"] == again.meta["model_fingerprint"]


def test_samples_are_not_collapsed(generate, ddpm_pipeline):
    """A mode-collapse guard: distinct seeds must give visibly distinct images."""
    batch = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    pixels = batch.images.float().flatten(1)
    mean_pair_distance = torch.cdist(pixels, pixels).sum() / (len(batch) * (len(batch) - 1))
    assert mean_pair_distance / pixels.shape[1] ** 0.5 > 5.0  # mean per-pixel RMS difference, in uint8 levels


def test_contact_sheet_for_review(generate, ddpm_pipeline, tmp_path):
    batch = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    sheet = batch.grid(cols=4)
    sheet.save(tmp_path / "ddpm_samples.png")  # attach it as a CI artifact in a real pipeline
    assert sheet.size == (4 * 34 + 2, 4 * 34 + 2)
    # With the FID Inception in place (see the README), add the distribution gate here:
    #   assert_fid_below(batch, gen_refs["celeba-64-val"], 12.0)
