"""The model under test and the realistic regressions that ``--digits-variant`` swaps in.

committed     the model as trained, DDIM with 20 steps (the suite passes)
undertrained  the checkpoint of the same training run after 300 of its 3 000 steps
few-steps     the committed model sampled with 3 DDIM steps instead of 20
steps-12      12 DDIM steps instead of 20: inside every threshold, caught by the drift gate
seed-reuse    a sampler bug: image i gets the noise of seed i % 8, so only 8 distinct digits
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import DDIMPipeline

from pytest_genquality import ImageBatch

WEIGHTS = Path(__file__).parent / "weights"
SAMPLING = {"num_inference_steps": 20, "eta": 0.0}  # the production sampler setting
VARIANTS = ("committed", "undertrained", "few-steps", "steps-12", "seed-reuse")
FEWER_STEPS = {"few-steps": 3, "steps-12": 12}


def sampler_with_seed_reuse(pipeline: DDIMPipeline):
    """The diversity bug: noise drawn from ``seed % 8`` (say, one generator per worker instead of per image)."""

    def sample(seeds, prompts, device, **sampling):
        generators = [torch.Generator().manual_seed(seed % 8) for seed in seeds]
        images = pipeline.to(device)(batch_size=len(seeds), generator=generators, output_type="np", **sampling).images
        return ImageBatch.from_any(images, value_range=(0, 1))

    return sample


def load_variant(variant: str) -> tuple[object, dict]:
    """(model for ``generate``, sampler keyword arguments) of a variant."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    pipeline = DDIMPipeline.from_pretrained(
        WEIGHTS / ("ddim-undertrained" if variant == "undertrained" else "ddim"), low_cpu_mem_usage=False
    )
    pipeline.set_progress_bar_config(disable=True)
    sampling = {**SAMPLING, "num_inference_steps": FEWER_STEPS[variant]} if variant in FEWER_STEPS else dict(SAMPLING)
    return (sampler_with_seed_reuse(pipeline) if variant == "seed-reuse" else pipeline), sampling
