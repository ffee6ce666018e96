"""InceptionFID's fast path (precision="bf16", compile=True) against pytorch-fid fp32, on one device, one run.

Not a test (timings are not assertions): run it by hand, or through benchmarks/gpu_check.sh
(part "inception-fast"), and read the two tables.

    python benchmarks/bench_inception_fast.py --device cuda [--images 256] [--fid-images 1024]
    python benchmarks/bench_inception_fast.py --device cpu --images 4 --fid-images 16 --no-compile   # dry run

1. Throughput, images/s at ``--size`` px, median of ``--repeats`` interleaved runs after a
   warm-up (the warm-up includes torch.compile's compilation): pytorch-fid's InceptionV3 fp32
   (TF32 off), ours fp32, ours bf16, ours bf16 + compile; the speed-up column is against
   pytorch-fid fp32 (the issue's goal: >= 2x).
2. FID deviation from fp32 on the same images: FID between two seeded sets of ``--fid-images``
   smooth random images (set B against set A's statistics) under each variant, and its absolute
   and relative difference from ours fp32.

Both sides get the same weights: ``--weights PATH`` (the official
``pt_inception-2015-12-05-6726825d.pth`` when the machine has it), else the seeded random
stand-in, which amplifies round-off more than the trained network (say which one was used).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inception import median_seconds, pytorch_fid_model  # noqa: E402

from pytest_genquality.features import InceptionFID, build_random_inception_weights  # noqa: E402
from pytest_genquality.metrics import frechet_distance  # noqa: E402


def smooth_images(count: int, size: int, seed: int) -> torch.Tensor:
    """uint8 [count, 3, size, size]: bilinear-upsampled 8x8 noise, closer to natural images than white noise."""
    coarse = torch.rand(count, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return (torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear") * 255).round().to(torch.uint8)


def fid_between(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
    """FID of set B against set A's Gaussian, float64 moments (the project's frechet_distance)."""
    rows_a, rows_b = np.asarray(rows_a, dtype=np.float64), np.asarray(rows_b, dtype=np.float64)
    return frechet_distance(
        rows_a.mean(axis=0), np.cov(rows_a, rowvar=False), rows_b.mean(axis=0), np.cov(rows_b, rowvar=False)
    )


def deviation(value: float, reference: float) -> tuple[float, float]:
    """(value - reference, relative difference |value - reference| / |reference|)."""
    return value - reference, abs(value - reference) / abs(reference) if reference else float("inf")


def variants(weights: Path, device: torch.device, batch_size: int, compile_too: bool) -> dict[str, InceptionFID]:
    models = {
        "ours fp32": InceptionFID(weights, device=device, batch_size=batch_size),
        "ours bf16": InceptionFID(weights, device=device, batch_size=batch_size, precision="bf16"),
    }
    if compile_too:
        models["ours bf16+compile"] = InceptionFID(
            weights, device=device, batch_size=batch_size, precision="bf16", compile=True
        )
    return models


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (default cuda)")
    parser.add_argument("--images", type=int, default=256, help="images per timed run (default 256)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant after a warm-up (default 3)")
    parser.add_argument("--size", type=int, default=299, help="input side in px (default 299)")
    parser.add_argument("--fid-images", type=int, default=1024, help="images per FID set (default 1024)")
    parser.add_argument("--weights", type=Path, default=None, help="Inception weights (default: seeded random)")
    parser.add_argument("--no-compile", action="store_true", help="leave out bf16+compile (CPU dry runs)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":  # fp32 means fp32 on both sides, as the plugin's determinism switches set
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        import pytorch_fid  # noqa: F401

        have_peer = True
    except ImportError:
        have_peer = False
        print("pytorch-fid is not installed: no peer row, speed-ups are against ours fp32")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        weights = args.weights or build_random_inception_weights(scratch, seed=0)
        which = "official file" if args.weights else "seeded random stand-in (seed 0)"
        models = variants(weights, device, args.images, compile_too=not args.no_compile)
        where = (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
        )
        print(f"torch {torch.__version__}, {where}, weights: {which} {Path(weights).name}")

        images = torch.randint(
            0,
            256,
            (args.images, 3, args.size, args.size),
            dtype=torch.uint8,
            generator=torch.Generator().manual_seed(args.size),
        )
        runs = {name: (lambda model=model: model(images)["pool"]) for name, model in models.items()}
        if have_peer:
            theirs = pytorch_fid_model(Path(weights), scratch / "hub").to(device)

            def run_theirs():  # pytorch-fid's get_activations: x/255 on the device, pool output to the CPU
                with torch.no_grad():
                    return theirs(images.to(device).float() / 255)[0].squeeze(-1).squeeze(-1).cpu()

            runs = {"pytorch-fid fp32": run_theirs, **runs}
        seconds = median_seconds(runs, args.repeats, sync)
        baseline = seconds["pytorch-fid fp32" if have_peer else "ours fp32"]
        print(f"\nthroughput at {args.size}px, {args.images} images per run, median of {args.repeats} after warm-up")
        print(f"{'variant':>20} {'img/s':>10} {'vs pytorch-fid fp32' if have_peer else 'vs ours fp32':>20}")
        for name, value in seconds.items():
            print(f"{name:>20} {args.images / value:>10.1f} {baseline / value:>19.2f}x")

        set_a, set_b = smooth_images(args.fid_images, args.size, 1), smooth_images(args.fid_images, args.size, 2)
        fids = {
            name: fid_between(model(set_a)["pool"].numpy(), model(set_b)["pool"].numpy())
            for name, model in models.items()
        }
        reference = fids["ours fp32"]
        print(f"\nFID deviation from fp32: set B vs set A, {args.fid_images} smooth random images each, {args.size}px")
        print(f"{'variant':>20} {'FID':>12} {'minus fp32':>12} {'rel diff':>10}")
        for name, value in fids.items():
            difference, relative = deviation(value, reference)
            print(f"{name:>20} {value:>12.5g} {difference:>12.3g} {relative:>10.2e}")


if __name__ == "__main__":
    main()
