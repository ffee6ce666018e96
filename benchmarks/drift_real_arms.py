"""The arms of bench_drift_real.py: the digits model as committed, harmless changes and graded regressions.

Each arm is a (model, sampler settings, seeds, dtype, threads) recipe for the digits suite's
``generate``; ``cached_arm`` generates it once, block by block, and stores per seed the
16x16 gray image (uint8) and the digit classifier's "pool" features (float32 [64]) and logits
(float32 [10]) under benchmarks/.cache/drift_real/<arm>/, so every statistic of the benchmark
is evaluated on the same images without generating them again.

    python benchmarks/drift_real_arms.py ARM [ARM ...] [--seeds 16000]   # fill the cache

Harmless arms (must never fail):
  rerun        the committed model again (same bits: checked, then read from the baseline)
  threads-2    two torch threads instead of one (CPU kernel round-off)
  float64      the pipeline cast to float64
  noise-1e-5   Gaussian weight noise of 1e-5 x each tensor's RMS
  seed-only    the test's seeds changed (10 000 000 + i): an independent sample, unpaired
  new-map      a new seed -> noise map (numpy's PCG64 instead of torch's generator): same seeds,
               pairs share nothing
Regressions (must fail once material):
  steps-12, steps-8, steps-6   fewer DDIM steps than the production 20
  noise-1pct, noise-3pct       Gaussian weight noise of 1 % / 3 % of each tensor's RMS
  eta-1                        the sampler's eta set to 1 (DDPM-like ancestral noise) instead of 0
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits_suite"
sys.path.insert(0, str(DIGITS))
CACHE = Path(__file__).resolve().parent / ".cache" / "drift_real"
BLOCK = 800  # seeds generated (and cached) per file
SEED_ONLY_OFFSET = 10_000_000

ARMS = {  # name: (kind, description)
    "committed": ("baseline", "the model as committed, DDIM 20 steps, 1 thread"),
    "rerun": ("harmless", "same model, same settings, run again"),
    "threads-2": ("harmless", "2 torch threads"),
    "float64": ("harmless", "pipeline in float64"),
    "noise-1e-5": ("harmless", "weight noise 1e-5 x RMS"),
    "seed-only": ("harmless", "other seeds (unpaired)"),
    "new-map": ("harmless", "new seed->noise map (numpy PCG64)"),
    "steps-12": ("regression", "12 DDIM steps instead of 20"),
    "steps-8": ("regression", "8 DDIM steps"),
    "steps-6": ("regression", "6 DDIM steps"),
    "noise-1pct": ("regression", "weight noise 1 % x RMS"),
    "noise-3pct": ("regression", "weight noise 3 % x RMS"),
    "eta-1": ("regression", "sampler eta 1 instead of 0"),
}


def with_weight_noise(pipeline, relative: float, seed: int = 0):
    """A copy of the pipeline whose UNet tensors get w + relative * rms(w) * N(0, 1), seeded."""
    noisy = copy.deepcopy(pipeline)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in noisy.unet.parameters():
            rms = parameter.float().pow(2).mean().sqrt()
            parameter.add_(relative * rms * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return noisy


def numpy_noise_sampler(pipeline):
    """The DDIM loop of ``DDIMPipeline.__call__`` with each image's noise from ``numpy.random.default_rng(seed)``."""
    from pytest_genquality import ImageBatch

    def sample(seeds, prompts, device, num_inference_steps=20, eta=0.0):
        unet, scheduler = pipeline.unet, pipeline.scheduler
        size = unet.config.sample_size
        noise = np.stack(
            [np.random.default_rng(seed).standard_normal((unet.config.in_channels, size, size)) for seed in seeds]
        ).astype(np.float32)
        image = torch.from_numpy(noise)
        scheduler.set_timesteps(num_inference_steps)
        with torch.no_grad():
            for t in scheduler.timesteps:
                image = scheduler.step(unet(image, t).sample, t, image, eta=eta).prev_sample
        image = (image / 2 + 0.5).clamp(0, 1)
        return ImageBatch.from_any(image.permute(0, 2, 3, 1).numpy(), value_range=(0, 1))

    return sample


def arm_recipe(arm: str):
    """(model, sampler kwargs, seed offset, dtype, threads) of an arm."""
    from digits_variants import load_variant

    pipeline, sampling = load_variant("committed")
    model, offset, dtype, threads = pipeline, 0, None, 1
    if arm == "threads-2":
        threads = 2
    elif arm == "float64":
        dtype = torch.float64
    elif arm.startswith("noise-"):
        relative = {"noise-1e-5": 1e-5, "noise-1pct": 0.01, "noise-3pct": 0.03}[arm]
        model = with_weight_noise(pipeline, relative)
    elif arm == "seed-only":
        offset = SEED_ONLY_OFFSET
    elif arm == "new-map":
        model = numpy_noise_sampler(pipeline)
    elif arm.startswith("steps-"):
        sampling = {**sampling, "num_inference_steps": int(arm.split("-")[1])}
    elif arm == "eta-1":
        sampling = {**sampling, "eta": 1.0}
    elif arm not in ("committed", "rerun"):
        raise ValueError(f"arm: expected one of {', '.join(ARMS)}, got {arm!r}")
    return model, sampling, offset, dtype, threads


def _generate_block(arm: str, start: int, recipe, extractor) -> dict[str, np.ndarray]:
    from pytest_genquality.generation.engine import make_generate

    model, sampling, offset, dtype, threads = recipe
    torch.set_num_threads(threads)
    generate = make_generate(torch.device("cpu"), dtype=dtype)
    seeds = range(offset + start, offset + start + BLOCK)
    started = time.perf_counter()
    batch = generate(model, seeds=seeds, batch_size=400, **sampling)
    generation_s = time.perf_counter() - started
    started = time.perf_counter()
    torch.set_num_threads(1)
    out = extractor(batch)
    extraction_s = time.perf_counter() - started
    return {
        "images": batch.images[:, 0].numpy(),
        "pool": out["pool"].numpy(),
        "logits": out["logits"].numpy(),
        "seconds": np.array([generation_s, extraction_s]),
    }


def cached_arm(arm: str, seeds: int, *, generate_missing: bool = True) -> dict[str, np.ndarray] | None:
    """The arm's first ``seeds`` images/features (multiple of BLOCK), generating missing blocks; None if absent."""
    folder = CACHE / arm
    folder.mkdir(parents=True, exist_ok=True)
    recipe = extractor = None
    parts = []
    for start in range(0, seeds, BLOCK):
        path = folder / f"{start:06d}.npz"
        if not path.exists():
            if not generate_missing:
                return None
            if recipe is None:
                from digit_classifier import DigitFeatures

                recipe, extractor = arm_recipe(arm), DigitFeatures()
            block = _generate_block(arm, start, recipe, extractor)
            np.savez(path.with_suffix(".tmp.npz"), **block)
            path.with_suffix(".tmp.npz").rename(path)
            print(
                f"{arm}: seeds {start}..{start + BLOCK - 1} in {block['seconds'][0]:.1f} s "
                f"(+{block['seconds'][1]:.2f} s features)",
                flush=True,
            )
        with np.load(path) as data:
            parts.append({key: data[key] for key in data.files})
    return {
        "images": np.concatenate([p["images"] for p in parts]),
        "pool": np.concatenate([p["pool"] for p in parts]),
        "logits": np.concatenate([p["logits"] for p in parts]),
        "seconds": np.sum([p["seconds"] for p in parts], axis=0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arms", nargs="+", choices=list(ARMS))
    parser.add_argument("--seeds", type=int, default=16000)
    args = parser.parse_args()
    for arm in args.arms:
        cached_arm(arm, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
