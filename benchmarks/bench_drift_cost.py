"""Cost of the FID drift noise test per call: the margin gate as shipped vs the plain permutation test it replaced.

CPU, one BLAS thread, d = 2048 features (power-law spectrum), seconds of wall time on this
machine; ratios are gate / previous, measured in the same run on the same features.

- previous: ``permutation_test`` with 200 unpaired re-splits on every check (timed on
  ``--previous-resplits`` re-splits and scaled to 200; each re-split costs the same).
- gate, under ``--update-refs`` (once per baseline): ``seed_noise_sd`` on the baseline rows
  (64 half-splits of at most 1024 rows, so bounded whatever N).
- gate, a check inside the margin (every harmless change): ``margin_test`` given the observed
  difference: nothing is built or resampled.
- gate, a check beyond the margin (a clear regression): the pooled statistic plus the paired
  re-assignments until the sequential rule stops.

    python benchmarks/bench_drift_cost.py                 # N = 256 and 1024 (a few minutes)
    python benchmarks/bench_drift_cost.py --n 256 1024 5000
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from pytest_genquality.metrics.frechet import FrechetSubsets
from pytest_genquality.stats import AUTO_MARGIN_SDS, margin_test, permutation_test, seed_noise_sd


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--previous-resplits", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    scales = np.sqrt(1.0 / np.arange(1, args.dim + 1))
    mu_ref, sigma_ref = np.zeros(args.dim), np.diag(scales ** 2)
    make = lambda pooled: FrechetSubsets(mu_ref, sigma_ref, pooled).distance  # noqa: E731
    print("| N | previous: permutation, 200 re-splits | gate: --update-refs (seed_noise_sd) | gate: check inside "
          "the margin | gate: clear regression | inside / previous |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for n in args.n:
            offset = 0.3 * scales
            baseline = (offset + rng.standard_normal((n, args.dim)) * scales).astype(np.float16).astype(np.float64)
            harmless = baseline + 1e-3 * scales * rng.standard_normal(baseline.shape)
            regressed = baseline + 0.2 * scales
            if n <= 2048:
                part, _ = timed(lambda: permutation_test(baseline, harmless, make, worse_sign=1,
                                                         resamples=args.previous_resplits))
                build, _ = timed(lambda: make(np.concatenate([baseline, harmless])))
                previous = build + (part - build) * 200 / args.previous_resplits
                previous_text = f"{previous:.2f} s"
            else:
                previous, previous_text = None, "not run (two N x N eigendecompositions per re-split)"
            update, noise = timed(lambda: seed_noise_sd(baseline, make))
            margin = AUTO_MARGIN_SDS * noise
            observed = 1e-4  # what a harmless numerical change moves FID by: inside the margin
            inside, result = timed(lambda: margin_test(baseline, harmless, make, worse_sign=1, margin=margin,
                                                       paired=True, noise_sd=noise, observed=observed))
            assert result.method == "inside-margin"
            if n <= 2048:
                clear, caught = timed(lambda: margin_test(baseline, regressed, make, worse_sign=1, margin=margin,
                                                          paired=True, noise_sd=noise))
                clear_text = f"{clear:.2f} s ({caught.resamples} re-assignments, p={caught.p_value:.1g})"
            else:
                clear_text = "not run"
            ratio = f"{inside / previous:.1e}" if previous else "—"
            print(f"| {n} | {previous_text} | {update:.2f} s | {inside * 1e3:.3f} ms | {clear_text} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
