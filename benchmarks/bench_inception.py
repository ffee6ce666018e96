"""Images/s of our InceptionFID against pytorch-fid's InceptionV3([3]) on CPU, same weights and inputs.

Not a test (timings are not assertions): run it by hand and read the table.

    python benchmarks/bench_inception.py [--images 64] [--repeats 3] [--device cuda]

On a GPU both models run in fp32 on it (TF32 off, as the plugin's determinism switches set),
and each timed run ends with a synchronisation. Without pytorch-fid only our side is timed.

Both sides get the same seeded random weights (pytorch-fid finds them under the official
file name in a temporary torch hub dir) and the same uint8 images; pytorch-fid is fed what its
``get_activations`` feeds it (x/255). Thread count is torch's default.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pytest_genquality.features import InceptionFID, build_random_inception_weights
from pytest_genquality.features.weights import REGISTRY


def pytorch_fid_model(weights: Path, hub: Path):
    from pytorch_fid.inception import InceptionV3

    (hub / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copy(weights, hub / "checkpoints" / REGISTRY["inception-fid"].filename)
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        return InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    finally:
        torch.hub.set_dir(previous)


def median_seconds(runs: dict, repeats: int, sync=lambda: None) -> dict:
    """Median wall time per named run; one warm-up each, then the runs interleaved, so that
    load from other processes drifting during the benchmark hits both sides alike."""
    for run in runs.values():
        run()
    sync()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="images per timed run (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case, after a warm-up (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[299, 64], help="input sides in px")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        import pytorch_fid  # noqa: F401

        have_peer = True
    except ImportError:
        have_peer = False
        print("pytorch-fid is not installed: timing our InceptionFID only")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        weights = build_random_inception_weights(scratch, seed=0)
        ours = InceptionFID(weights, batch_size=args.images, device=device)
        theirs = pytorch_fid_model(weights, scratch / "hub").to(device) if have_peer else None

        where = (
            torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
        )
        print(
            f"torch {torch.__version__}, {where}, fp32, {args.images} images, "
            f"median of {args.repeats} interleaved runs after warm-up"
        )
        print(f"{'input':>8} {'pytorch-fid img/s':>18} {'ours img/s':>11} {'speed-up':>9} {'max rel diff':>13}")
        for size in args.sizes:
            generator = torch.Generator().manual_seed(size)
            images = torch.randint(0, 256, (args.images, 3, size, size), dtype=torch.uint8, generator=generator)

            def run_theirs():  # pytorch-fid's get_activations: x/255 on the device, pool output to the CPU
                with torch.no_grad():
                    return theirs(images.to(device).float() / 255)[0].squeeze(-1).squeeze(-1).cpu()

            def run_ours():
                return ours(images)["pool"]

            if theirs is None:
                our_seconds = median_seconds({"ours": run_ours}, args.repeats, sync)["ours"]
                print(f"{size:>6}px {'-':>18} {args.images / our_seconds:>11.2f} {'-':>9} {'-':>13}")
                continue
            seconds = median_seconds({"theirs": run_theirs, "ours": run_ours}, args.repeats, sync)
            their_seconds, our_seconds = seconds["theirs"], seconds["ours"]
            reference = run_theirs()
            difference = float((run_ours() - reference).abs().max() / reference.abs().max())
            print(
                f"{size:>6}px {args.images / their_seconds:>18.2f} {args.images / our_seconds:>11.2f} "
                f"{their_seconds / our_seconds:>8.2f}x {difference:>13.2e}"
            )


if __name__ == "__main__":
    main()
