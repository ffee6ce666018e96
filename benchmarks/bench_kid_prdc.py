"""KID and precision/recall at scale: pytest-genquality vs torch-fidelity (and torchmetrics' KID math).

Each case runs in a fresh subprocess so its peak memory can be measured: the peak resident set
size (ru_maxrss) minus the resident size after the features are loaded, i.e. the memory the
metric itself adds. Times are wall-clock seconds of the metric call alone. Ratios are ours /
peer, measured in the same run on the same features. With ``--repeat R`` the cases run R times,
interleaved (ours, peer, ours, peer, ...), and the medians are compared: on a shared machine a
load spike then hits both sides instead of one; the spread (min..max) is printed too.

    python benchmarks/bench_kid_prdc.py                # 10k x 10k, 2048-d (a few minutes on 2 cores)
    python benchmarks/bench_kid_prdc.py --n 5000 --repeat 3
    python benchmarks/bench_kid_prdc.py --metric kid --repeat 3   # KID cases only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_features(path: Path, n: int, d: int) -> None:
    """Non-negative float32 features shaped like Inception pool activations (two shifted sets)."""
    rng = np.random.default_rng(0)
    real = rng.gamma(2.0, 0.2, size=(n, d)).astype(np.float32)
    fake = (rng.gamma(2.0, 0.2, size=(n, d)) * 1.05).astype(np.float32)
    np.savez(path, real=real, fake=fake)


def run_case(case: str, data: Path, subsets: int, subset_size: int) -> dict:
    import torch

    arrays = np.load(data)
    real, fake = arrays["real"], arrays["fake"]
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    if case == "kid/ours":
        from pytest_genquality.metrics import kid

        call = lambda: kid(fake, real, subsets=subsets, subset_size=subset_size, seed=0)[0]  # noqa: E731
    elif case == "kid/torch-fidelity":
        from torch_fidelity.metric_kid import kid_features_to_metric

        call = lambda: kid_features_to_metric(  # noqa: E731
            fake_t,
            real_t,
            kid_subsets=subsets,
            kid_subset_size=subset_size,
            rng_seed=0,
            verbose=False,
        )["kernel_inception_distance_mean"]
    elif case == "kid/torchmetrics-math":
        from torchmetrics.image.kid import poly_mmd

        def call():  # KernelInceptionDistance.compute's loop, on features
            values = []
            for _ in range(subsets):
                f_real = real_t[torch.randperm(len(real_t))[:subset_size]]
                f_fake = fake_t[torch.randperm(len(fake_t))[:subset_size]]
                values.append(poly_mmd(f_real, f_fake))
            return float(torch.stack(values).mean())
    elif case == "pr/ours":
        from pytest_genquality.metrics import precision_recall

        call = lambda: tuple(precision_recall(real, fake, k=3))  # noqa: E731
    elif case == "pr/torch-fidelity":
        from torch_fidelity.metric_prc import calculate_precision_recall_part

        call = lambda: calculate_precision_recall_part(fake_t, real_t, 3)  # noqa: E731
    else:
        raise ValueError(case)
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"case": case, "seconds": seconds, "extra_mib": (peak_kib - baseline_kib) / 1024, "value": value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--subsets", type=int, default=100)
    parser.add_argument("--subset-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per case; medians are compared")
    parser.add_argument("--metric", choices=("all", "kid", "pr"), default="all", help="which cases to run")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, Path(args.data), args.subsets, args.subset_size)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "features.npz"
        make_features(data, args.n, args.d)
        print(f"{args.n} x {args.n} features, {args.d}-d float32; KID {args.subsets} subsets of {args.subset_size}")
        cases = tuple(
            case
            for case in ("kid/ours", "kid/torch-fidelity", "kid/torchmetrics-math", "pr/ours", "pr/torch-fidelity")
            if args.metric in ("all", case.split("/")[0])
        )
        runs = {case: [] for case in cases}
        for repeat in range(args.repeat):
            for case in cases:
                output = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--case",
                        case,
                        "--data",
                        str(data),
                        "--subsets",
                        str(args.subsets),
                        "--subset-size",
                        str(args.subset_size),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(output.stdout.strip().splitlines()[-1])
                runs[case].append(r)
                print(
                    f"  [{repeat + 1}/{args.repeat}] {case:24s} {r['seconds']:8.2f} s  {r['extra_mib']:8.0f} MiB extra"
                    f"  value {r['value']}",
                    flush=True,
                )
        results = {case: _median_run(runs[case]) for case in cases}
        print("medians:")
        for case in cases:
            r, seconds = results[case], [run["seconds"] for run in runs[case]]
            print(
                f"  {case:24s} {r['seconds']:8.2f} s ({min(seconds):.2f}..{max(seconds):.2f})"
                f"  {r['extra_mib']:8.0f} MiB extra"
            )
        for ours, peers in (
            ("kid/ours", ("kid/torch-fidelity", "kid/torchmetrics-math")),
            ("pr/ours", ("pr/torch-fidelity",)),
        ):
            if ours not in results:
                continue
            for peer in peers:
                time_ratio = results[ours]["seconds"] / results[peer]["seconds"]
                memory_ratio = results[ours]["extra_mib"] / max(results[peer]["extra_mib"], 1e-9)
                print(f"  {ours} / {peer}: time x{time_ratio:.2f}, extra memory x{memory_ratio:.2f}")


def _median_run(runs: list[dict]) -> dict:
    """Median seconds and median extra memory over the repeats of one case."""
    return {
        "seconds": float(np.median([r["seconds"] for r in runs])),
        "extra_mib": float(np.median([r["extra_mib"] for r in runs])),
    }


if __name__ == "__main__":
    main()
