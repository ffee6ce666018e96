"""build-ref's costs: decoding vs feature extraction, DataLoader workers, and 1 vs K torchrun ranks.

Not a test (timings are not assertions): run it by hand and read the ratios, all measured in
the same run on the same images.

    python benchmarks/bench_build_ref.py decode [--images 2000] [--size 64] [--workers 2] [--extract-images 64]
    python benchmarks/bench_build_ref.py ranks  [--images 500 2000] [--nproc 2]
    python benchmarks/bench_build_ref.py make-images DIR [--images 2000] [--size 64]

``decode``: seconds per image of (a) decoding the PNGs on the main thread, as build-ref did
before 0.2, (b) decoding with ``--workers`` DataLoader processes, (c) the FID Inception on
the decoded images (seeded random weights, fp32, on ``--device``), timed on
``--extract-images`` of them; then the full ``build_reference`` on ``--extract-images`` files
with 0 workers and with ``--workers``, to show how much of the decode the workers hide.

``ranks``: the same ``build_reference`` under ``torchrun --nproc-per-node=1`` and ``=K`` on
``--images`` files, with a cheap 2048-d extractor (pooled pixels times a fixed random
projection) so that the pipeline and the merge, not Inception, are what is timed. Each rank
also times one gather + Chan merge of 2048-d float64 moments alone: the constant overhead of
going distributed, whatever N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def make_images(folder: Path, count: int, size: int) -> Path:
    """``count`` PNGs of ``size`` px: smooth colour fields plus mild noise (compress like photos, roughly)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / f"{i // 1000:03d}" / f"{i:06d}.png"
        if path.exists():
            continue
        path.parent.mkdir(exist_ok=True)
        coarse = torch.from_numpy(rng.random((1, 3, 4, 4)))
        smooth = (
            F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
        )
        pixels = np.clip(smooth * 255 + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
    return folder


class ProjectionExtractor:
    """uint8 [N,3,H,W] -> 4x4 pooled pixels -> fixed random projection to 2048-d: Inception's width, ~free."""

    id = "bench:projection2048"

    def __init__(self):
        self.weights = torch.randn(48, 2048, generator=torch.Generator().manual_seed(0)) / 48**0.5

    def __call__(self, images):
        pooled = F.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)
        return {"pool": torch.tanh(pooled @ self.weights)}


def seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_decode(args) -> None:
    from pytest_genquality.reference.builder import build_reference
    from pytest_genquality.features import InceptionFID, build_random_inception_weights
    from pytest_genquality.reference.image_files import ImageFiles, image_batches

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folder = make_images(scratch / "images", args.images, args.size)
        files = ImageFiles.open(folder)
        blocks = [range(s, min(s + args.batch_size, len(files))) for s in range(0, len(files), args.batch_size)]

        def decode(workers):
            return lambda: sum(len(i) for runs in image_batches(files, blocks, workers=workers) for i, _ in runs)

        decode_main = seconds(decode(0)) / len(files)
        decode_workers = seconds(decode(args.workers)) / len(files)

        extractor = InceptionFID(
            build_random_inception_weights(scratch, seed=0), device=device, batch_size=args.batch_size
        )
        sample = torch.cat(
            [images for runs in image_batches(files, [range(args.extract_images)]) for _, images in runs]
        )
        extractor(sample[:2])  # warm-up
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        extract = seconds(lambda: (extractor(sample), sync())) / len(sample)

        subset = scratch / "subset"
        subset.mkdir()
        for name in files.names[: args.extract_images]:
            os.link(name, subset / Path(name).name)
        full = {
            workers: seconds(lambda: build_reference(subset, extractor, batch_size=args.batch_size, workers=workers))
            / args.extract_images
            for workers in (0, args.workers)
        }

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, device {device}; "
        f"{args.images} PNGs of {args.size} px, batches of {args.batch_size}"
    )
    print(f"decode, main thread            {decode_main * 1e3:8.2f} ms/img   ({args.images} images)")
    print(
        f"decode, {args.workers} DataLoader workers   {decode_workers * 1e3:8.2f} ms/img   "
        f"({decode_main / decode_workers:.2f}x)"
    )
    print(f"Inception fp32 extraction      {extract * 1e3:8.2f} ms/img   ({args.extract_images} images)")
    print(
        f"split at 0 workers: decode {decode_main / (decode_main + extract):.1%} / extraction "
        f"{extract / (decode_main + extract):.1%} of the serial time"
    )
    print(f"build_reference, 0 workers     {full[0] * 1e3:8.2f} ms/img   ({args.extract_images} images)")
    print(
        f"build_reference, {args.workers} workers     {full[args.workers] * 1e3:8.2f} ms/img   "
        f"({full[0] / full[args.workers]:.2f}x)"
    )


def rank_job(args) -> None:
    """One rank of ``ranks``: time build_reference, then one gather + merge of 2048-d moments alone."""
    from pytest_genquality import distributed
    from pytest_genquality.reference.builder import build_reference
    from pytest_genquality.stats import RunningMoments

    world = distributed.World.from_env()
    created = distributed.start(world, "cpu")
    extractor = ProjectionExtractor()
    distributed.all_gather(world, None)  # line the ranks up before timing
    start = time.perf_counter()
    build_reference(args.folder, extractor, batch_size=64, workers=args.workers, world=world)
    build = time.perf_counter() - start

    moments = RunningMoments(2048)
    moments.update(np.random.default_rng(world.rank).normal(size=(64, 2048)))
    distributed.all_gather(world, None)
    start = time.perf_counter()
    shares = distributed.gather_to_writer(world, moments.state())
    if world.is_writer:
        merged = RunningMoments.from_state(shares[0])
        for share in shares[1:]:
            merged.merge(RunningMoments.from_state(share))
    merge = time.perf_counter() - start
    if world.is_writer:
        print(json.dumps({"build_s": build, "merge_s": merge}))
    distributed.stop(created)


def bench_ranks(args) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        print(
            f"torch {torch.__version__}, {os.cpu_count()} CPUs, gloo; 2048-d projection extractor, "
            f"64 px PNGs, batches of 64, {args.workers} workers per rank"
        )
        print(f"{'images':>7} {'ranks':>5} {'build s':>8} {'ms/img':>7} {'gather+merge s':>15}")
        for count in args.images:
            folder = make_images(Path(scratch) / f"n{count}", count, 64)
            for nproc in (1, args.nproc):
                command = [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    f"--nproc-per-node={nproc}",
                    __file__,
                    "rank-job",
                    str(folder),
                    "--workers",
                    str(args.workers),
                ]
                done = subprocess.run(
                    command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
                )
                if done.returncode != 0:
                    raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                print(
                    f"{count:>7} {nproc:>5} {figures['build_s']:>8.2f} {figures['build_s'] / count * 1e3:>7.2f} "
                    f"{figures['merge_s']:>15.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    decode = sub.add_parser("decode")
    decode.add_argument("--images", type=int, default=2000)
    decode.add_argument("--size", type=int, default=64)
    decode.add_argument("--batch-size", type=int, default=64)
    decode.add_argument("--workers", type=int, default=2)
    decode.add_argument("--extract-images", type=int, default=64)
    decode.add_argument("--device", default="cpu")
    ranks = sub.add_parser("ranks")
    ranks.add_argument("--images", type=int, nargs="+", default=[500, 2000])
    ranks.add_argument("--nproc", type=int, default=2)
    ranks.add_argument("--workers", type=int, default=0)
    job = sub.add_parser("rank-job")
    job.add_argument("folder")
    job.add_argument("--workers", type=int, default=0)
    make = sub.add_parser("make-images")
    make.add_argument("folder")
    make.add_argument("--images", type=int, default=2000)
    make.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    if args.command == "decode":
        bench_decode(args)
    elif args.command == "ranks":
        bench_ranks(args)
    elif args.command == "rank-job":
        rank_job(args)
    else:
        make_images(Path(args.folder), args.images, args.size)
        print(f"wrote {args.images} PNGs of {args.size} px under {args.folder}")


if __name__ == "__main__":
    main()
