"""Cost of the FID drift noise test per call: the margin gate vs the plain permutation test it replaced.

CPU, one BLAS thread, d = 2048 features (power-law spectrum), seconds of wall time on this
machine, and the peak of memory the call allocates (tracemalloc, numpy included; the inputs
themselves not counted). Ratios are gate / previous, measured in the same run on the same features.

- previous: the 0.1 ``permutation_test`` (kept below) with 200 unpaired re-splits on every check (timed on
  ``--previous-resplits`` re-splits and scaled to 200; each re-split costs the same; not run
  past N = 2048).
- gate, under ``--update-refs`` (once per baseline): ``seed_noise_sd`` on the baseline rows
  (64 half-splits of at most 1024 rows, so bounded whatever N).
- gate, a check inside the margin (every harmless change): ``margin_test`` given the observed
  difference, as the plugin calls it: nothing is built or resampled.
- gate, a clear regression, as the plugin calls it for FID (``observed`` given,
  ``noise_sd_is_upper_bound=True``): decided by the noise-SD bound, nothing built.
- gate, the same clear regression without the bound (what any other distribution metric pays):
  the pooled statistic plus paired re-assignments until the predictive-t rule stops.
- gate, a borderline regression (worsening = margin + 2 noise SDs, beyond the margin but not
  far enough for the bound): the pooled statistic plus re-assignments until the sequential
  rule decides.

    python benchmarks/bench_drift_cost.py                  # N = 256, 1024 and 5000 (~10 minutes)
    python benchmarks/bench_drift_cost.py --n 256 1024
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from pytest_genquality.metrics.frechet import FrechetSubsets
from pytest_genquality.stats import AUTO_MARGIN_SDS, margin_test, seed_noise_sd


def permutation_test(baseline, current, make_statistic, *, worse_sign: int, resamples: int, seed: int = 0) -> float:
    """The 0.1 gate this benchmark compares with (removed from ``stats`` in 0.3): an unpaired
    permutation test of statistic(current) - statistic(baseline); returns the one-sided p-value."""
    pooled = np.concatenate([baseline, current])
    n_base = baseline.shape[0]
    statistic = make_statistic(pooled)
    everything = np.arange(pooled.shape[0])
    observed = statistic(everything[n_base:]) - statistic(everything[:n_base])
    rng = np.random.default_rng(seed)
    null = np.empty(resamples)
    for i in range(resamples):
        order = rng.permutation(pooled.shape[0])
        null[i] = statistic(order[n_base:]) - statistic(order[:n_base])
    return float((np.sum(worse_sign * null >= worse_sign * observed) + 1) / (resamples + 1))


def timed(call) -> tuple[float, float, object]:
    """(seconds, peak MB allocated during the call, value)."""
    tracemalloc.start()
    start = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, value


def shifted(rows, scales, worsening) -> np.ndarray:
    """rows moved along the model's offset so that FID's mean term grows by ``worsening``."""
    mean = rows.mean(axis=0)
    direction = scales / np.linalg.norm(scales)
    along = float(mean @ direction)
    step = -along + np.sqrt(along**2 + worsening)
    return rows + step * direction


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[256, 1024, 5000])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--previous-resplits", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    scales = np.sqrt(1.0 / np.arange(1, args.dim + 1))
    mu_ref, sigma_ref = np.zeros(args.dim), np.diag(scales**2)
    make = lambda pooled: FrechetSubsets(mu_ref, sigma_ref, pooled).distance  # noqa: E731
    print(
        "| N | previous: permutation, 200 re-splits | `--update-refs` (seed_noise_sd) | check inside the margin | "
        "clear regression, FID (bound) | clear regression, no bound | borderline (margin + 2 noise SDs) | "
        "peak MB (no bound / borderline) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for n in args.n:
            baseline = (
                (0.3 * scales + rng.standard_normal((n, args.dim)) * scales).astype(np.float16).astype(np.float64)
            )
            harmless = baseline + 1e-3 * scales * rng.standard_normal(baseline.shape)
            previous = None
            if n <= 2048:
                part, _, _ = timed(
                    lambda: permutation_test(baseline, harmless, make, worse_sign=1, resamples=args.previous_resplits)
                )
                build, _, _ = timed(lambda: make(np.concatenate([baseline, harmless])))
                previous = build + (part - build) * 200 / args.previous_resplits
            ratio = (lambda seconds: f" ({seconds / previous:.2g} ×)") if previous else (lambda seconds: "")
            # as assert_fid_below: the noise estimate's subsets take float32 eigenvalues
            update, _, noise = timed(
                lambda: seed_noise_sd(
                    baseline, lambda pooled: FrechetSubsets(mu_ref, sigma_ref, pooled, eigenvalues="float32").distance
                )
            )
            margin = AUTO_MARGIN_SDS * noise
            cells = [f"{previous:.2f} s" if previous else "not run", f"{update:.2f} s{ratio(update)}"]
            inside, _, result = timed(
                lambda: margin_test(
                    baseline, harmless, make, worse_sign=1, margin=margin, paired=True, noise_sd=noise, observed=1e-4
                )
            )
            assert result.method == "inside-margin"
            cells.append(f"{inside * 1e3:.3f} ms")
            regressed = shifted(baseline, scales, 40 * noise)
            observed = 40 * noise  # the caller's value - baseline: the mean term moves by exactly this
            bound, _, caught = timed(
                lambda: margin_test(
                    baseline,
                    regressed,
                    make,
                    worse_sign=1,
                    margin=margin,
                    paired=True,
                    noise_sd=noise,
                    observed=observed,
                    noise_sd_is_upper_bound=True,
                )
            )
            assert caught.method == "noise-sd-bound" and caught.significant_worsening
            cells.append(f"{bound * 1e3:.3f} ms")
            clear, clear_mb, caught = timed(
                lambda: margin_test(
                    baseline,
                    regressed,
                    make,
                    worse_sign=1,
                    margin=margin,
                    paired=True,
                    noise_sd=noise,
                    smooth_null=True,
                )
            )
            assert caught.significant_worsening
            cells.append(f"{clear:.2f} s{ratio(clear)}, {caught.resamples} draws")
            edge = shifted(baseline, scales, margin + 2 * noise)
            border, border_mb, decided = timed(
                lambda: margin_test(
                    baseline,
                    edge,
                    make,
                    worse_sign=1,
                    margin=margin,
                    paired=True,
                    noise_sd=noise,
                    noise_sd_is_upper_bound=True,
                    smooth_null=True,
                )
            )
            verdict = "fail" if decided.significant_worsening else "pass"
            cells.append(f"{border:.2f} s{ratio(border)}, {decided.resamples} draws, {verdict}")
            cells.append(f"{clear_mb:.0f} / {border_mb:.0f}")
            print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
