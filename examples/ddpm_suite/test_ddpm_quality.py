"""Quality checks of an unconditional diffusion model, run on every merge request.

The `generate` fixture (pytest-genquality) makes one image per seed with its own generator,
so the same seeds give the same images on every run, whatever the batch size: a failing
check is a change of the model, never a change of the random draw.

Run:  pytest examples/ddpm_suite                (CPU)
      pytest examples/ddpm_suite --gen-device=cuda --gen-cache
"""

import torch

from pytest_genquality import assert_no_regression, assert_quality

SEEDS = range(16)
QUALITY_SEEDS = range(64)  # FID is compared only at this N: keep it fixed (its bias grows like 1/N)
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


def test_distribution_stays_close_to_the_data(generate, ddpm_pipeline, gen_refs):
    """The quality gate: an absolute FID bar, drift against the stored baseline, and a diversity check.

    FID alone can improve while the model collapses onto a few modes; recall cannot. Both are
    measured and recorded even when one fails, and the failure lists both. The extractor is the
    session's `inception` fixture (here examples/conftest.py's, which may use demo weights).
    """
    batch = generate(ddpm_pipeline, seeds=QUALITY_SEEDS, num_inference_steps=STEPS)
    assert_quality(
        batch,
        gen_refs["demo-real-32"],
        fid_below=12_000.0,  # a team sets its bar from its measured FID
        recall_above=0.0,
    )


def test_images_match_the_baseline_images(generate, ddpm_pipeline):
    """Paired, per seed: a refactor of the sampler must not move the pixels (same batch_size as the baseline)."""
    batch = generate(ddpm_pipeline, seeds=SEEDS, num_inference_steps=STEPS)
    assert_no_regression(batch, "max_abs", max_value=1)
