"""Calibration of the drift gate as shipped: false alarms of harmless changes, detection of regressions.

Simulates Inception-like features, not images, so it runs in minutes on 2 cores:
- d = 2048 features, power-law spectrum (variance of feature j ~ 1/j), reference Gaussian
  statistics from ``--ref-n`` samples and ``--real-n`` reference rows for KID/recall/coverage;
- a "model" maps seed i to one feature row (its own seeded latent z_i), so a changed model
  evaluated on the same seeds gives rows paired with the baseline's;
- the baseline is stored in float16, as ``baselines/features/<node>.npz``;
- each trial runs what ``assert_*(max_drift="auto")`` runs for FID, KID, recall and coverage:
  the seed-noise SD from the baseline rows (``seed_noise_sd``), the default margin
  (``AUTO_MARGIN_SDS`` x that SD) and ``margin_test`` (paired when the seeds are the same).

Harmless changes: per-sample numerical noise of 1e-3 and 1e-2 of each feature's SD; a
re-trained equivalent model (same distribution, a different seed -> row map; seeds kept, so the
paired test runs on pairs that share nothing); a seed-only change (other seeds: unpaired test).
Regressions, same seeds: a mean shift giving dFID = 1.5 seed-noise SDs, a diversity loss
(latent x 0.95), a 3 % partial mode collapse (3 % of seeds land near one sample), a spectral
blur (top 10 % of eigenvalues x 0.9); and their opposites, which must read "improved", not fail.

Rates come with 95 % Clopper-Pearson intervals. A session of S tests x 5 metrics is counted as
failing when any of its metrics fails; its rate is 1 - (1 - p_test)^S with p_test the measured
per-test rate (tests in a session are independent), the interval mapped the same way.

    python benchmarks/bench_drift_calibration.py --quick      # d=256, N=128: about a minute
    python benchmarks/bench_drift_calibration.py              # d=2048, N=256 and 1024
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # a bare machine: set OPENBLAS_NUM_THREADS=1 (or MKL_/OMP_) instead
    from contextlib import nullcontext

    def threadpool_limits(**_):
        return nullcontext()


from pytest_genquality.metrics.collapse import NearestNeighbourSubsets
from pytest_genquality.metrics.frechet import FrechetSubsets
from pytest_genquality.metrics.resampling import KernelMMDSubsets, NeighbourhoodSubsets, real_sq_radii
from pytest_genquality.stats import (
    AUTO_MARGIN_SDS,
    DRIFT_ALPHA,
    NORMAL_TEST_NOISE_FACTOR,
    margin_test,
    mean_and_covariance,
    normal_margin_test,
    seed_noise_sd,
)
from pytest_genquality.checks.workflow import SPECS

METRICS = ("fid", "kid", "recall", "coverage", "log_nn_distance")  # each test's metrics, as named in verdict.SPECS
SESSION_TESTS = 20


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    tail = (1 - level) / 2
    low = 0.0 if successes == 0 else scipy_stats.beta.ppf(tail, successes, trials - successes + 1)
    high = 1.0 if successes == trials else scipy_stats.beta.ppf(1 - tail, successes + 1, trials - successes)
    return float(low), float(high)


@dataclass
class World:
    """The simulated reference and model. Features: row = mean + z * sqrt(variances)."""

    dim: int
    ref_mu: np.ndarray
    ref_sigma: np.ndarray
    real: np.ndarray
    real_radii: dict
    model_mu: np.ndarray
    model_sd: np.ndarray

    @classmethod
    def build(cls, dim: int, ref_n: int, real_n: int, seed: int = 0) -> "World":
        rng = np.random.default_rng(seed)
        variances = 1.0 / np.arange(1, dim + 1)
        reference_rows = rng.standard_normal((ref_n, dim)) * np.sqrt(variances)
        ref_mu, ref_sigma = mean_and_covariance(reference_rows)
        real = reference_rows[:real_n].copy()
        model_mu = 0.3 * np.sqrt(variances) * rng.choice([-1.0, 1.0], dim)
        model_sd = np.sqrt(variances * (1.0 + 0.2 * rng.uniform(-1, 1, dim)))
        radii = {k: real_sq_radii(real, k) for k in (3, 5)}
        return cls(dim, ref_mu, ref_sigma, real, radii, model_mu, model_sd)

    def latents(self, seeds: np.ndarray) -> np.ndarray:
        return np.stack([np.random.default_rng(int(s)).standard_normal(self.dim) for s in seeds])

    def rows(self, latents: np.ndarray, *, mean_shift: float = 0.0) -> np.ndarray:
        direction = self.model_mu / np.linalg.norm(self.model_mu)
        return self.model_mu + mean_shift * direction + latents * self.model_sd

    def statistic(self, metric: str):
        """make_statistic(pooled) -> statistic(indices), as the assertions build them."""
        if metric == "fid":
            return lambda pooled: FrechetSubsets(self.ref_mu, self.ref_sigma, pooled).distance
        if metric == "kid":
            return lambda pooled: KernelMMDSubsets(self.real, pooled, kernel="polynomial").distance
        if metric == "log_nn_distance":
            return lambda pooled: NearestNeighbourSubsets(pooled).log_nn_distance
        k = 3 if metric == "recall" else 5
        return lambda pooled: getattr(
            NeighbourhoodSubsets(self.real, pooled, k=k, real_radii=self.real_radii[k]), metric
        )


def shift_for_fid(world: World, delta_fid: float) -> float:
    """Mean shift s along the model's offset that raises FID by ``delta_fid`` (|mu+s u|^2 - |mu|^2)."""
    norm = float(np.linalg.norm(world.model_mu))
    return -norm + np.sqrt(norm**2 + delta_fid) if delta_fid >= 0 else -norm + np.sqrt(max(norm**2 + delta_fid, 0))


def changed_rows(
    world: World, change: str, seeds: np.ndarray, latents: np.ndarray, rng, shift: float
) -> tuple[np.ndarray, bool]:
    """(current rows, paired?) for one named change of the model evaluated on ``seeds``."""
    base = world.rows(latents)
    feature_sd = world.model_sd
    top = max(1, world.dim // 10)
    if change.startswith("noise"):
        scale = float(change.split()[1])
        return base + scale * feature_sd * rng.standard_normal(base.shape), True
    if change == "retrained":
        return world.rows(world.latents(seeds + 10_000_000)), True
    if change == "seed-only":
        return world.rows(world.latents(seeds + 20_000_000)), False
    if change in ("mean shift", "mean shift (better)"):
        return world.rows(latents, mean_shift=shift if change == "mean shift" else -shift), True
    if change.startswith("diversity"):
        factor = 0.95 if change == "diversity loss" else 1.05
        return world.rows(latents * factor), True
    if change == "collapse 3%":
        collapsed = latents.copy()
        chosen = np.arange(len(seeds)) % 33 == 0
        collapsed[chosen] = latents[0] + 0.05 * latents[chosen]
        return world.rows(collapsed), True
    if change.startswith("spectral"):
        factor = np.ones(world.dim)
        factor[:top] = np.sqrt(0.9 if change == "spectral blur" else 1.0 / 0.9)
        return world.rows(latents * factor), True
    raise ValueError(f"change: unknown {change!r}")


def run_trial(world: World, change: str, n: int, trial: int, shift: float, metrics=METRICS) -> dict:
    """One test: each metric through the gate. Returns metric -> (verdict, observed worsening, noise SD)."""
    rng = np.random.default_rng(1_000_000 + trial)
    seeds = np.arange(n) + trial * n * 7
    latents = world.latents(seeds)
    baseline = world.rows(latents).astype(np.float16).astype(np.float64)
    current, paired = changed_rows(world, change, seeds, latents, rng, shift)
    current = current.astype(np.float16).astype(np.float64)
    pooled = np.concatenate([baseline, current])
    outcome = {}
    for metric in metrics:
        statistic = world.statistic(metric)(pooled)
        # the baseline is pooled rows 0..n-1, so the pooled statistic serves seed_noise_sd too (same values)
        noise = seed_noise_sd(baseline, lambda _rows, s=statistic: s)
        everything = np.arange(2 * n)
        observed = statistic(everything[n:]) - statistic(everything[:n])
        spec = SPECS[metric]  # the gate's own per-metric choices (test, direction, shortcuts)
        if spec.noise_test == "normal":
            noise *= NORMAL_TEST_NOISE_FACTOR
            result = normal_margin_test(
                observed, worse_sign=spec.worse_sign, margin=AUTO_MARGIN_SDS * noise, noise_sd=noise
            )
        else:
            result = margin_test(
                baseline,
                current,
                lambda _pooled, s=statistic: s,
                worse_sign=spec.worse_sign,
                margin=AUTO_MARGIN_SDS * noise,
                paired=paired,
                noise_sd=noise,
                observed=observed,
                seed=trial,
                noise_sd_is_upper_bound=spec.noise_sd_is_upper_bound,
                smooth_null=spec.smooth_null,
            )
        verdict = "fail" if result.significant_worsening else "improved" if result.significant_improvement else "pass"
        outcome[metric] = (verdict, result.worsening, noise)
    return outcome


_WORKER_WORLD: World | None = None


def _start_worker(world_args: tuple) -> None:
    global _WORKER_WORLD
    with threadpool_limits(limits=1, user_api="blas"):
        _WORKER_WORLD = World.build(*world_args)


def _trial_in_worker(job: tuple) -> dict:
    with threadpool_limits(limits=1, user_api="blas"):
        return run_trial(_WORKER_WORLD, *job)


class Trials:
    """Runs trials here, or in a pool of processes that each build the same (seeded) world."""

    def __init__(self, world: World, world_args: tuple, workers: int):
        self.world = world
        self.pool = (
            multiprocessing.get_context("fork").Pool(workers, _start_worker, (world_args,)) if workers > 1 else None
        )

    def cell(self, change: str, n: int, trials: int, shift: float, first: int = 0) -> list[dict]:
        jobs = [(change, n, trial, shift) for trial in range(first, first + trials)]
        if self.pool is None:
            return [run_trial(self.world, *job) for job in jobs]
        return self.pool.map(_trial_in_worker, jobs, chunksize=max(1, len(jobs) // (8 * self.pool._processes)))


def rate_text(count: int, trials: int) -> str:
    low, high = clopper_pearson(count, trials)
    return f"{100 * count / trials:5.1f} % [{100 * low:.1f}, {100 * high:.1f}] ({count}/{trials})"


def seed_noise_of_fid(world: World, n: int, pairs: int) -> float:
    """The true seed-noise SD of FID(current) - FID(baseline): independent seed sets, same model."""
    make = world.statistic("fid")
    differences = []
    for pair in range(pairs):
        rows = world.rows(world.latents(np.arange(2 * n) + 50_000_000 + pair * 2 * n))
        statistic = make(rows)
        differences.append(statistic(np.arange(n, 2 * n)) - statistic(np.arange(n)))
    return float(np.std(differences, ddof=1))


HARMLESS = ("noise 1e-3", "noise 1e-2", "retrained", "seed-only")
REGRESSIONS = ("mean shift", "diversity loss", "collapse 3%", "spectral blur")
OPPOSITES = ("mean shift (better)", "diversity gain", "spectral sharpen")


def report(
    world: World, trials: Trials, n: int, harmless_trials: int, regression_trials: int, noise_pairs: int, changes=None
) -> None:
    start = time.perf_counter()
    fid_noise = seed_noise_of_fid(world, n, noise_pairs)
    shift = shift_for_fid(world, 1.5 * fid_noise)
    print(
        f"\n## N = {n}, d = {world.dim}: true seed-noise SD of dFID {fid_noise:.4g} ({noise_pairs} seed-set pairs); "
        f"margin = {AUTO_MARGIN_SDS:g} x estimated seed-noise SD, alpha = {DRIFT_ALPHA:g} one-sided\n"
    )
    print(
        "| change | " + " | ".join(f"{m} fails" for m in METRICS) + " | test fails (any of 5) | session of "
        f"{SESSION_TESTS} tests fails |"
    )
    print("|---|" + "---|" * (len(METRICS) + 2))
    estimated, headroom = [], {}
    for change in [c for c in HARMLESS if changes is None or c in changes]:
        outcomes = trials.cell(change, n, harmless_trials, shift)
        estimated.extend(o["fid"][2] for o in outcomes)
        headroom[change] = max(o[m][1] / o[m][2] for o in outcomes for m in METRICS)
        cells = [rate_text(sum(o[m][0] == "fail" for o in outcomes), len(outcomes)) for m in METRICS]
        test_fails = sum(any(o[m][0] == "fail" for m in METRICS) for o in outcomes)
        low, high = clopper_pearson(test_fails, len(outcomes))
        session = 1 - (1 - test_fails / len(outcomes)) ** SESSION_TESTS
        session_interval = (1 - (1 - low) ** SESSION_TESTS, 1 - (1 - high) ** SESSION_TESTS)
        print(
            f"| {change} | " + " | ".join(cells) + f" | {rate_text(test_fails, len(outcomes))} | "
            f"{100 * session:.1f} % [{100 * session_interval[0]:.1f}, {100 * session_interval[1]:.1f}] |"
        )
    if headroom:
        print(
            "\nlargest worsening of any metric in any harmless trial, in estimated seed-noise SDs (a failure needs "
            f"more than the margin, {AUTO_MARGIN_SDS:g}, plus the null's tail): "
            + ", ".join(f"{change} {value:+.2f}" for change, value in headroom.items())
        )
        print(
            f"\nestimated seed-noise SD of FID (seed_noise_sd, from the baseline alone): median "
            f"{np.median(estimated):.4g} = {np.median(estimated) / fid_noise:.2f} x the true one"
        )
    print("\n| change (same seeds) | " + " | ".join(f"{m}" for m in METRICS) + " | detected (any fails) |")
    print("|---|" + "---|" * (len(METRICS) + 1))
    for change in [c for c in REGRESSIONS + OPPOSITES if changes is None or c in changes]:
        outcomes = trials.cell(change, n, regression_trials, shift)
        cells = []
        for metric in METRICS:
            fails = sum(o[metric][0] == "fail" for o in outcomes)
            improved = sum(o[metric][0] == "improved" for o in outcomes)
            mean_worse = np.mean([o[metric][1] / o[metric][2] for o in outcomes])
            cells.append(
                f"fail {100 * fails / len(outcomes):.0f} %, improved {100 * improved / len(outcomes):.0f} % "
                f"({mean_worse:+.1f} SD)"
            )
        detected = sum(any(o[m][0] == "fail" for m in METRICS) for o in outcomes)
        print(f"| {change} | " + " | ".join(cells) + f" | {rate_text(detected, len(outcomes))} |")
    print(f"\n(N = {n}: {time.perf_counter() - start:.0f} s; '(+x SD)': mean worsening in estimated seed-noise SDs)")


def sessions_report(trials: Trials, n: int, sessions: int, changes=("retrained", "seed-only")) -> None:
    """Whole sessions simulated directly: ``sessions`` x SESSION_TESTS tests per harmless change."""
    start = time.perf_counter()
    print(
        f"\n## Sessions at N = {n}: {sessions} sessions x {SESSION_TESTS} tests x {len(METRICS)} metrics per "
        "harmless change (every test a fresh baseline and seed set)\n"
    )
    print(
        "| harmless change | sessions failing | tests failing | "
        + " | ".join(f"{m} fails" for m in METRICS)
        + " | largest worsening, in estimated noise SDs |"
    )
    print("|---|---|---|" + "---|" * (len(METRICS) + 1))
    for change in changes:
        outcomes = trials.cell(change, n, sessions * SESSION_TESTS, 0.0, first=100_000)
        failing = [any(o[m][0] == "fail" for m in METRICS) for o in outcomes]
        sessions_failing = sum(any(failing[i : i + SESSION_TESTS]) for i in range(0, len(failing), SESSION_TESTS))
        largest = max(o[m][1] / o[m][2] for o in outcomes for m in METRICS if o[m][2] > 0)
        cells = [f"{sum(o[m][0] == 'fail' for o in outcomes)}/{len(outcomes)}" for m in METRICS]
        print(
            f"| {change} | {rate_text(sessions_failing, sessions)} | {rate_text(sum(failing), len(failing))} | "
            + " | ".join(cells)
            + f" | {largest:+.2f} |"
        )
    print(f"\n(sessions at N = {n}: {time.perf_counter() - start:.0f} s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="d=256, N=128, few trials (about a minute)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--n", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--harmless-trials", type=int, default=200)
    parser.add_argument("--regression-trials", type=int, default=40)
    parser.add_argument("--ref-n", type=int, default=20_000)
    parser.add_argument("--real-n", type=int, default=2_000)
    parser.add_argument("--noise-pairs", type=int, default=60)
    parser.add_argument("--large-n-scale", type=float, default=0.25, help="trial counts at N > 256 are scaled by this")
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        help="also simulate this many whole sessions per harmless change (retrained, seed-only)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (each builds the same seeded world)")
    parser.add_argument(
        "--changes",
        nargs="+",
        default=None,
        metavar="CHANGE",
        help=f"only these changes in the tables (of: {', '.join(HARMLESS + REGRESSIONS + OPPOSITES)})",
    )
    args = parser.parse_args(argv)
    unknown = set(args.changes or ()) - set(HARMLESS + REGRESSIONS + OPPOSITES)
    if unknown:
        parser.error(f"--changes: unknown {sorted(unknown)}")
    if args.quick:
        args.dim, args.n, args.harmless_trials, args.regression_trials = 256, [128], 60, 20
        args.ref_n, args.real_n, args.noise_pairs = 5_000, 1_000, 40
    world_args = (args.dim, args.ref_n, args.real_n)
    with threadpool_limits(limits=1, user_api="blas"):
        world = World.build(*world_args)
        trials = Trials(world, world_args, args.workers)
        for n in args.n:
            trials_scale = 1 if n <= 256 else args.large_n_scale
            if args.harmless_trials > 0:
                report(
                    world,
                    trials,
                    n,
                    max(10, int(args.harmless_trials * trials_scale)),
                    max(10, int(args.regression_trials * trials_scale)),
                    args.noise_pairs,
                    args.changes,
                )
            if args.sessions:
                session_changes = [c for c in ("retrained", "seed-only") if args.changes is None or c in args.changes]
                sessions_report(trials, n, max(1, int(args.sessions * trials_scale)), session_changes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
