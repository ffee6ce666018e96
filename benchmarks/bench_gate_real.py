"""The shipped drift gate on the real digits model: fail rates and seeds used, per arm.

Replays ``pytest_genquality.checks.workflow.drift_noise_test`` (the decision a real pytest
session makes after it has the features: the same function, the same default margin and
sequential design) on the arms cached by drift_real_arms.py: block b compares the committed
model's seeds bM..bM+M-1 (the baseline, float16 rows as the store keeps them) with the arm's
images of the same seeds (paired; seed-only and the shifted new-map pairs are unpaired), as
``assert_fid_below(generate(..., seeds=range(N), max_seeds=M), ...)`` would. The store and
pytest plumbing around it are covered by the tests, not timed here.

    python benchmarks/bench_gate_real.py            # N = 200 -> M = 800 and fixed N = 200, 500 (~5 min on 2 cores)
    python benchmarks/bench_gate_real.py --quick    # N = 200 only, 8 blocks per arm

Prints k/n [Clopper-Pearson 95 %] failing checks, mean seeds used / N, checks decided at
each look, and for N = 500 the gate's compute time against the generation time of N images.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_drift_real import ARMS, SMALL_ARMS, load_arms, load_reference, rate  # noqa: E402

from pytest_genquality.checks.workflow import SPECS, DriftEvidence, drift_noise_test  # noqa: E402
from pytest_genquality.metrics.frechet import FrechetSubsets  # noqa: E402

_SHARED: dict = {}
EXTRA_UNPAIRED = ("seed-only", "new-map")  # also compared with the next block: other seeds, unpaired


def _init(shared):
    global _SHARED
    _SHARED = shared
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def check(job) -> tuple[str, int, int, float, float]:
    """One check -> (verdict, seeds used, look, gate seconds, FID worsening at N)."""
    arm, b_base, b_cur, n, n_max, adaptive = job
    pool, mu, sigma = _SHARED["pool"], _SHARED["mu"], _SHARED["sigma"]
    stored = pool["committed"][b_base * n_max : (b_base + 1) * n_max].astype(np.float16)
    current = pool[arm][b_cur * n_max : (b_cur + 1) * n_max].astype(np.float64)
    started = time.perf_counter()
    base_n = stored[:n].astype(np.float64)
    baseline_value = FrechetSubsets(mu, sigma, base_n).distance(np.arange(n))
    value = FrechetSubsets(mu, sigma, current[:n]).distance(np.arange(n))

    def make_statistic(pooled):
        return FrechetSubsets(mu, sigma, pooled).distance

    evidence = DriftEvidence(
        current[:n],
        make_statistic=make_statistic,
        rows_for=lambda count: current[:count],
        max_rows=n_max if adaptive else None,
    )
    result = drift_noise_test(
        SPECS["fid"],
        evidence,
        stored,
        observed=value - baseline_value,
        paired=arm not in ("seed-only",) and b_base == b_cur,
        adaptive=adaptive,
        baseline_value=baseline_value,
    )
    seconds = time.perf_counter() - started
    verdict = "fail" if result.significant_worsening else "pass"
    return verdict, result.n_used or n, result.look, seconds, value - baseline_value


def table(arms, n: int, n_max: int, adaptive: bool, blocks_cap: int, workers: int) -> dict:
    title = f"N = {n} -> max_seeds {n_max} (sequential)" if adaptive else f"fixed N = {n}"
    print(f"\n## shipped gate, {title}; margin 5 % of the baseline FID, level 0.0025")
    print(f"{'arm':<12} {'kind':<10} {'fails k/n [CP 95%]':>22} {'mean N/N':>9} {'looks':>12} {'gate s':>7}")
    jobs_by_arm = {}
    for arm in arms:
        blocks = min(len(_SHARED["pool"][arm]) // n_max, blocks_cap)
        if blocks == 0:
            continue
        pairs = [(b, b) for b in range(blocks)]
        if arm in EXTRA_UNPAIRED:
            pairs += [(b, (b + 1) % blocks) for b in range(blocks)]
        jobs_by_arm[arm] = [(arm, bb, bc, n, n_max, adaptive) for bb, bc in pairs]
    jobs = [job for arm in arms for job in jobs_by_arm[arm]]
    with multiprocessing.get_context("fork").Pool(workers, _init, (_SHARED,)) as pool:
        outcomes = pool.map(check, jobs, chunksize=2)
    by_arm: dict = {}
    for job, outcome in zip(jobs, outcomes):
        by_arm.setdefault(job[0], []).append(outcome)
    harmless = [0, 0]
    summary = {}
    for arm in arms:
        if arm not in by_arm:
            print(f"{arm:<12} (fewer than {n_max} cached seeds)")
            continue
        results = by_arm[arm]
        fails = sum(r[0] == "fail" for r in results)
        looks = np.bincount([r[2] for r in results], minlength=max(r[2] for r in results) + 1)[1:]
        kind = ARMS[arm][0]
        if kind == "harmless":
            harmless[0] += fails
            harmless[1] += len(results)
        summary[arm] = (fails, len(results), float(np.mean([r[1] for r in results]) / n))
        print(
            f"{arm:<12} {kind:<10} {rate(fails, len(results)):>22} {summary[arm][2]:>9.2f} "
            f"{'/'.join(map(str, looks)):>12} {np.mean([r[3] for r in results]):>7.2f}"
        )
    print(f"harmless arms together: {rate(*harmless)} failing checks")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=16000)
    parser.add_argument("--small-seeds", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--futility-z", type=float, default=None, help="override the shipped FUTILITY_Z (exploration)")
    parser.add_argument("--max-factor", type=int, default=4, help="max_seeds = this x N in the sequential table")
    parser.add_argument("--sequential-only", action="store_true")
    args = parser.parse_args()
    if args.futility_z is not None:
        import pytest_genquality.checks.workflow as workflow

        workflow.FUTILITY_Z = args.futility_z
        print(f"# exploration: futility z <= {args.futility_z} instead of the shipped value")
    started = time.time()
    arms = [arm for arm in ARMS if arm != "committed"]
    data = load_arms(args.seeds, args.small_seeds, ["committed"] + arms)
    reference = load_reference()
    _init(
        {"pool": {arm: data[arm]["pool"] for arm in ["committed"] + arms}, "mu": reference.mu, "sigma": reference.sigma}
    )
    per_image = data["committed"]["seconds"][0] / len(data["committed"]["pool"])
    print(
        f"# bench_gate_real: {len(arms)} arms, {args.seeds} seeds ({args.small_seeds} for {', '.join(SMALL_ARMS)}); "
        f"generation {per_image * 1000:.1f} ms per image (cached, measured when the cache was built)"
    )
    cap = 8 if args.quick else 40
    table(arms, 200, 200 * args.max_factor, True, cap, args.workers)
    if not (args.quick or args.sequential_only):
        table(arms, 200, 200, False, cap, args.workers)
        table(arms, 500, 500, False, cap, args.workers)
        print(f"generation of 500 images: {500 * per_image:.1f} s (gate s above is per check, one core)")
    print(f"\n(total {time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
