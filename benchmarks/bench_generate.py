"""First run vs cached rerun of the tiny text-to-image generation (--gen-cache).

The rerun still fingerprints the pipeline (sha256 over every weight) and reads the cached
images; the goal is a rerun at least 10x faster than generating. With a production model the
ratio is far larger: generation grows with steps and resolution, fingerprinting only with
the number of weights.

    python benchmarks/bench_generate.py [--images 64] [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiny_models import tiny_stable_diffusion_pipeline  # noqa: E402

from pytest_genquality.generation.engine import make_generate  # noqa: E402

PROMPTS = ["a red bicycle leaning on a wall", "a bowl of ramen, top view", "a lighthouse at dusk", "a cat asleep"]


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        pipe = tiny_stable_diffusion_pipeline(Path(workdir) / "tokenizer")
        cache_dir = Path(workdir) / "cache"
        request = {"prompts": PROMPTS, "seeds": range(args.images), "num_inference_steps": args.steps}
        first, first_seconds = timed(lambda: make_generate(torch.device("cpu"), cache_dir=cache_dir)(pipe, **request))
        rerun, rerun_seconds = timed(lambda: make_generate(torch.device("cpu"), cache_dir=cache_dir)(pipe, **request))
    assert rerun.meta["cached"] and torch.equal(first.images, rerun.images)
    print(
        f"tiny text-to-image, {args.images} images x {args.steps} steps, 32x32, CPU ({torch.get_num_threads()} threads)"
    )
    print(f"  first run (generate + write cache)  {first_seconds:8.3f} s")
    print(f"  rerun (fingerprint + read cache)    {rerun_seconds:8.3f} s")
    print(f"  speed-up                            {first_seconds / rerun_seconds:8.1f} x")


if __name__ == "__main__":
    main()
