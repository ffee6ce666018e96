"""The drift gate on a real model: which evidence catches which regression of the digits DDPM, at what cost.

The source of truth of the drift gate's numbers (docs/drift_gate.md).
Every arm of drift_real_arms.py (the committed model, six harmless changes, graded regressions)
is generated once for seeds 0..S-1 and cached with its digit-classifier features and logits
(benchmarks/.cache/drift_real/); every statistic is then evaluated offline on seed blocks:
block b of size N compares the committed model's images of seeds bN..bN+N-1 (the baseline)
with the arm's images of the same seeds (paired by seed; the seed-only arm has other seeds and
is compared unpaired).

    python benchmarks/bench_drift_real.py            # generates what the cache lacks (~50 min on 2 busy cores), then ~25 min (measured 1407 s under load)
    python benchmarks/bench_drift_real.py --quick    # N = 200 only, fewer blocks, no KID

Tables:
1. effects: per arm, the true FID worsening (mean over N = 200 blocks, in seed-SDs of FID at
   N = 200; and on all S images), the median PSNR to the same seed's baseline image, and each
   per-image score's paired standardised shift mean(d)/sd(d).
2. power at fixed N (200, 500): share of blocks failing, k/n [Clopper-Pearson 95 %], per
   statistic and arm, at the one-sided level 0.0025 of each check:
   - FID gate: the shipped `max_drift="auto"` procedure (margin 0.75 seed-noise SDs of the
     baseline, paired permutation margin test, the noise-SD shortcut), baseline rows float16;
   - FID z, KID z: the metric difference over its paired-swap null SD (40 swaps), margin 0;
   - per-image scores (evidence.py): paired margin z, margin 0 ("raw power") and with the
     proposed default margin ``--margin-sds`` x the baseline's per-image SD.
3. sequential (sequential.py): N -> N_max = 4N in blocks of N, O'Brien-Fleming spending,
   futility z <= 0, on the recommended score with the default margin: fail rate, mean seeds
   per check relative to N, looks.
4. the digits suite's metrics over disjoint blocks of 200 committed seeds (thresholds).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_real_arms import ARMS, DIGITS, cached_arm  # noqa: E402

from drift_candidates import (
    FidInfluence,
    GaussianReference,
    classifier_entropy,
    classifier_nll,  # noqa: E402
    knn_distance,
    margin_z,
    normal_tail,
    outside_reference_manifold,
    reference_radii,
)
from pytest_genquality.metrics import density_coverage, precision_recall  # noqa: E402
from pytest_genquality.metrics.frechet import FrechetSubsets  # noqa: E402
from pytest_genquality.metrics.resampling import KernelMMDSubsets  # noqa: E402
from pytest_genquality.stats.sequential import make_design, obrien_fleming_spending, power_spending  # noqa: E402
from pytest_genquality.stats import AUTO_MARGIN_SDS, DRIFT_ALPHA, margin_test, seed_noise_sd  # noqa: E402
from pytest_genquality.store import Store  # noqa: E402
from pytest_genquality.checks.workflow import SPECS  # noqa: E402

SMALL_ARMS = ("threads-2", "float64", "noise-1e-5")  # harmless round-off arms, cached on fewer seeds
SCORES = ("knn", "mahalanobis", "classifier_nll", "classifier_entropy", "outside_manifold")
SWAPS = 40
DEFAULT_MARGIN_SDS = 0.05  # the realism scores' margin, in baseline per-image score SDs (see the report)
FID_MARGIN = 1.0  # the FID-influence score's margin, FID units at N = infinity ("FID +1.0 is harmless")
N_MAX_FACTOR = 4  # the baseline is stored at N_max = 4 N


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    tail = (1 - level) / 2
    low = 0.0 if successes == 0 else scipy_stats.beta.ppf(tail, successes, trials - successes + 1)
    high = 1.0 if successes == trials else scipy_stats.beta.ppf(1 - tail, successes + 1, trials - successes)
    return float(low), float(high)


def rate(k: int, n: int) -> str:
    low, high = clopper_pearson(k, n)
    return f"{k}/{n} [{low:.2f},{high:.2f}]"


def load_reference():
    return Store(DIGITS.parent / ".genquality").load_reference("digits-held-out")


def per_image_scores(arm_data: dict, reference, gaussian: GaussianReference, radii: np.ndarray) -> dict:
    pool = arm_data["pool"].astype(np.float64)
    real = np.asarray(reference.features, dtype=np.float64)
    return {
        "knn": knn_distance(pool, real),
        "mahalanobis": gaussian.mahalanobis_sq(pool),
        "classifier_nll": classifier_nll(arm_data["logits"]),
        "classifier_entropy": classifier_entropy(arm_data["logits"]),
        "outside_manifold": outside_reference_manifold(pool, real, radii=radii),
    }


def load_arms(seeds: int, small_seeds: int, arms) -> dict:
    data = {}
    for arm in arms:
        if arm == "rerun":
            again, first = cached_arm("rerun", 800), cached_arm("committed", 800)
            if not np.array_equal(again["images"], first["images"]):
                raise SystemExit("rerun: the committed model's images changed between two runs (not deterministic)")
            data[arm] = data["committed"]
            continue
        data[arm] = cached_arm(arm, small_seeds if arm in SMALL_ARMS else seeds)
    return data


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)


# ---------------------------------------------------------------- block comparisons (run in workers)

_SHARED: dict = {}


def _init(shared):
    global _SHARED
    _SHARED = shared
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:
        pass


def _swap_sd(statistic, n: int, paired: bool, rng) -> float:
    draws = []
    index = np.arange(n)
    for _ in range(SWAPS):
        if paired:
            swap = rng.random(n) < 0.5
            current, baseline = np.where(swap, index, index + n), np.where(swap, index + n, index)
        else:
            order = rng.permutation(2 * n)
            current, baseline = order[n:], order[:n]
        draws.append(statistic(current) - statistic(baseline))
    return float(np.std(draws, ddof=1))


def _ratio(difference: float, sd: float) -> float:
    """z of a difference over its null SD; identical sets (SD 0) are no evidence of anything."""
    return difference / sd if sd > 0 else (math.inf if difference > 0 else -math.inf)


def compare_block(job) -> dict:
    """One check: the committed model's block vs the arm's block, every statistic. Returns name -> (fail, value)."""
    arm, n, start, with_kid, with_gate = job
    shared = _SHARED
    paired = arm != "seed-only"
    base_rows = shared["pool"]["committed"][start : start + n].astype(np.float64)
    cur_rows = shared["pool"][arm][start : start + n].astype(np.float64)
    out = {}
    pooled = np.concatenate([base_rows, cur_rows])
    everything = np.arange(2 * n)
    frechet = FrechetSubsets(shared["mu"], shared["sigma"], pooled).distance
    fid_diff = frechet(everything[n:]) - frechet(everything[:n])
    rng = np.random.default_rng(start * 7 + n)
    z = _ratio(fid_diff, _swap_sd(frechet, n, paired, rng))
    out["FID z"] = (normal_tail(z) < DRIFT_ALPHA, fid_diff)
    if with_gate:  # the shipped gate: float16 baseline, margin 0.75 seed-noise SDs, paired permutation margin test
        base16 = base_rows.astype(np.float16).astype(np.float64)
        pooled16 = np.concatenate([base16, cur_rows])
        statistic = FrechetSubsets(shared["mu"], shared["sigma"], pooled16).distance
        noise = seed_noise_sd(base16, lambda _rows: statistic)
        observed = statistic(everything[n:]) - statistic(everything[:n])
        spec = SPECS["fid"]
        result = margin_test(
            base16,
            cur_rows,
            lambda _p: statistic,
            worse_sign=spec.worse_sign,
            margin=AUTO_MARGIN_SDS * noise,
            paired=paired,
            noise_sd=noise,
            observed=observed,
            seed=start,
            noise_sd_is_upper_bound=spec.noise_sd_is_upper_bound,
            smooth_null=spec.smooth_null,
        )
        out["FID gate"] = (bool(result.significant_worsening), observed)
    if with_kid:
        kid = KernelMMDSubsets(shared["real"], pooled, kernel="polynomial").distance
        kid_diff = kid(everything[n:]) - kid(everything[:n])
        out["KID z"] = (normal_tail(_ratio(kid_diff, _swap_sd(kid, n, paired, rng))) < DRIFT_ALPHA, kid_diff)
    base_if, cur_if = fid_influence_pair(shared, arm, start, n, N_MAX_FACTOR * n)
    for margin, name in ((0.0, "fid_influence"), (shared["fid_margin"], "fid_influence+m")):
        z, worsening, _ = margin_z(base_if, cur_if, margin=margin, paired=paired)
        out[name] = (normal_tail(z) < DRIFT_ALPHA, worsening)
    for score in SCORES:
        base = shared["scores"]["committed"][score][start : start + n]
        cur = shared["scores"][arm][score][start : start + n]
        z0, worsening, _ = margin_z(base, cur, margin=0.0, paired=paired)
        margin = shared["margin_sds"] * base.std(ddof=1)  # the baseline's own per-image SD, stored with it
        zm, _, _ = margin_z(base, cur, margin=margin, paired=paired)
        out[f"{score}"] = (normal_tail(z0) < DRIFT_ALPHA, worsening)
        out[f"{score}+m"] = (normal_tail(zm) < DRIFT_ALPHA, worsening)
    return out


def fid_influence_pair(shared, arm: str, start: int, n: int, n_max: int):
    """IF scores of the baseline's and the arm's rows start..start+n-1, the influence built from the
    baseline's mean and covariance over its N_max rows start..start+n_max-1 (stored under --update-refs)."""
    stored = shared["pool"]["committed"][start : start + n_max].astype(np.float64)
    influence = FidInfluence(shared["mu"], shared["sigma"], stored.mean(0), np.cov(stored, rowvar=False))
    return (
        influence.scores(shared["pool"]["committed"][start : start + n]),
        influence.scores(shared["pool"][arm][start : start + n]),
    )


def fid_swap_sequential_check(job) -> tuple[str, int, int, bool]:
    """An adaptive check on FID itself: at each look, z = (FID(current) - FID(baseline) - margin) / SD of
    the paired-swap null (SWAPS swaps) on the first n_j seeds. Returns (decision, seeds, looks, fixed-N fail)."""
    arm, b_base, b_cur, design = job
    n_max = design.looks[-1]
    paired = arm != "seed-only"
    base = _SHARED["pool"]["committed"][b_base * n_max : (b_base + 1) * n_max].astype(np.float64)
    cur = _SHARED["pool"][arm][b_cur * n_max : (b_cur + 1) * n_max].astype(np.float64)
    rng = np.random.default_rng(b_base * 31 + b_cur)
    decision_out = None
    fixed_fail = False
    for look, size in enumerate(design.looks):
        frechet = FrechetSubsets(_SHARED["mu"], _SHARED["sigma"], np.concatenate([base[:size], cur[:size]])).distance
        index = np.arange(2 * size)
        difference = frechet(index[size:]) - frechet(index[:size])
        z = _ratio(difference - _SHARED["fid_margin"], _swap_sd(frechet, size, paired, rng))
        if look == 0:
            fixed_fail = normal_tail(z) < DRIFT_ALPHA
        decision = design.decide(look, z)
        if decision != "continue":
            decision_out = (decision, size, look + 1)
            break
    return (*decision_out, fixed_fail)


def sequential_check(scores_base: np.ndarray, scores_cur: np.ndarray, design, margin: float, paired: bool):
    """(decision, seeds used, looks) of one adaptive check on the first n_K seeds of a block."""
    for look, size in enumerate(design.looks):
        z, _, _ = margin_z(scores_base[:size], scores_cur[:size], margin=margin, paired=paired)
        decision = design.decide(look, z)
        if decision != "continue":
            return decision, size, look + 1
    raise AssertionError("the last look always decides")


# ---------------------------------------------------------------- tables


def effects_table(data, scores, arms, n: int = 200) -> dict:
    reference = _SHARED
    committed = data["committed"]["pool"].astype(np.float64)
    blocks = len(committed) // n

    def block_fids(rows):
        frechet = FrechetSubsets(reference["mu"], reference["sigma"], rows).distance
        return np.array([frechet(np.arange(b * n, (b + 1) * n)) for b in range(len(rows) // n)])

    base_fids = block_fids(committed)
    seed_sd = base_fids.std(ddof=1)
    full = {}
    print(
        f"\n## 1. Effects (FID seed-SD at N={n}: {seed_sd:.2f} over {blocks} blocks; committed FID mean {base_fids.mean():.2f})"
    )
    header = f"{'arm':<12} {'seeds':>6} {'dFID/SD@200':>12} {'dFID all':>9} {'PSNR med':>9} " + " ".join(
        f"{s[:12]:>12}" for s in SCORES
    )
    print(header)
    print("-" * len(header))
    for arm in arms:
        rows = data[arm]["pool"].astype(np.float64)
        fids = block_fids(rows)
        dfid = (fids.mean() - base_fids[: len(fids)].mean()) / seed_sd
        whole = FrechetSubsets(reference["mu"], reference["sigma"], np.concatenate([committed[: len(rows)], rows]))
        count = len(rows)
        dall = whole.distance(np.arange(count, 2 * count)) - whole.distance(np.arange(count))
        p = psnr(data[arm]["images"], data["committed"]["images"][:count]) if arm != "seed-only" else np.array([np.nan])
        shifts = []
        for score in SCORES:
            d = scores[arm][score] - scores["committed"][score][:count]
            if arm == "seed-only":
                shifts.append(
                    (scores[arm][score].mean() - scores["committed"][score][:count].mean())
                    / scores["committed"][score].std(ddof=1)
                )
            else:
                shifts.append(d.mean() / d.std(ddof=1) if d.std() > 0 else 0.0)
        full[arm] = {"dfid_sd": dfid, "dfid_all": dall}
        print(
            f"{arm:<12} {count:>6} {dfid:>12.2f} {dall:>9.2f} {np.nanmedian(p):>9.1f} "
            + " ".join(f"{s:>12.3f}" for s in shifts)
        )
    print("(score columns: paired standardised shift mean(d)/sd(d); seed-only: unpaired shift / per-image SD)")
    return {"seed_sd": seed_sd, "base_fids": base_fids, **full}


def power_table(results: dict, arms, statistics, n: int, effects) -> None:
    print(f"\n## 2. Fixed N = {n}: blocks failing at one-sided {DRIFT_ALPHA} (k/n [Clopper-Pearson 95 %])")
    width = 19
    header = f"{'arm':<12} {'dFID/SD':>8} " + " ".join(f"{s[:width]:>{width}}" for s in statistics)
    print(header)
    print("-" * len(header))
    for arm in arms:
        outcomes = results[(arm, n)]
        cells = []
        for statistic in statistics:
            flags = [o[statistic][0] for o in outcomes if statistic in o]
            cells.append(rate(int(sum(flags)), len(flags)) if flags else "-")
        print(f"{arm:<12} {effects[arm]['dfid_sd']:>8.2f} " + " ".join(f"{c:>{width}}" for c in cells))


def sequential_table(
    scores,
    arms,
    n: int,
    score: str,
    margin_sds: float,
    spending_name: str,
    futility_z: float,
    effects,
    extra_null_shift: bool = True,
) -> None:
    spending = obrien_fleming_spending if spending_name == "obf" else power_spending(float(spending_name))
    design = make_design(n, 4 * n, alpha=DRIFT_ALPHA, spending=spending, futility_z=futility_z)
    n_max = design.looks[-1]
    margin_text = (
        f"FID +{_SHARED['fid_margin']}" if score in ("fid_influence", "FID swap") else f"{margin_sds} x per-image SD"
    )
    print(
        f"\n## 3. Sequential {score}: looks {design.looks}, efficacy z {tuple(round(c, 2) for c in design.efficacy)}, "
        f"futility z <= {futility_z}, margin {margin_text}, spending {spending_name}"
    )
    print(
        f"{'arm':<12} {'dFID/SD':>8} {'fails k/n [CP 95%]':>22} {'mean N/N':>9} {'looks 1/2/3/4':>16} {'fixed-N fails':>16}"
    )
    harmless_fail = harmless_total = 0
    for arm in arms:
        paired = arm != "seed-only"
        blocks = len(_SHARED["pool"][arm]) // n_max
        pairs = [(b, b) for b in range(blocks)]
        if arm == "seed-only" and extra_null_shift:  # also compare baseline block b with the seed-only block b+1
            pairs += [(b, (b + 1) % blocks) for b in range(blocks)]
        fails, used, looks, fixed_fails = 0, [], np.zeros(len(design.looks), int), 0
        if score == "FID swap":
            with multiprocessing.get_context("fork").Pool(2, _init, (_SHARED,)) as pool:
                checks = pool.map(fid_swap_sequential_check, [(arm, bb, bc, design) for bb, bc in pairs])
            for decision, size, look, fixed_fail in checks:
                fails += decision == "fail"
                used.append(size)
                looks[look - 1] += 1
                fixed_fails += fixed_fail
            pairs_done = True
        else:
            pairs_done = False
        for b_base, b_cur in [] if pairs_done else pairs:
            if score == "fid_influence":
                base, _ = fid_influence_pair(_SHARED, "committed", b_base * n_max, n_max, n_max)
                _, cur = fid_influence_pair(_SHARED, arm, b_base * n_max, n_max, n_max)
                if b_cur != b_base:  # the seed-only arm's other block, scored by the same baseline's influence
                    stored = _SHARED["pool"]["committed"][b_base * n_max : (b_base + 1) * n_max].astype(np.float64)
                    influence = FidInfluence(
                        _SHARED["mu"], _SHARED["sigma"], stored.mean(0), np.cov(stored, rowvar=False)
                    )
                    cur = influence.scores(_SHARED["pool"][arm][b_cur * n_max : (b_cur + 1) * n_max])
                margin = _SHARED["fid_margin"]
            else:
                base = scores["committed"][score][b_base * n_max : (b_base + 1) * n_max]
                cur = scores[arm][score][b_cur * n_max : (b_cur + 1) * n_max]
                margin = margin_sds * base.std(ddof=1)  # stored with the baseline's N_max rows
            decision, size, look = sequential_check(base, cur, design, margin, paired)
            fails += decision == "fail"
            used.append(size)
            looks[look - 1] += 1
            z, _, _ = margin_z(base[:n], cur[:n], margin=margin, paired=paired)
            fixed_fails += normal_tail(z) < DRIFT_ALPHA
        if ARMS[arm][0] == "harmless":
            harmless_fail += fails
            harmless_total += len(pairs)
        print(
            f"{arm:<12} {effects[arm]['dfid_sd']:>8.2f} {rate(fails, len(pairs)):>22} {np.mean(used) / n:>9.2f} "
            f"{'/'.join(map(str, looks)):>16} {rate(fixed_fails, len(pairs)):>16}"
        )
    print(f"harmless arms together: {rate(harmless_fail, harmless_total)} failing checks")


# examples/digits_suite/test_digits_quality.py's thresholds (0.3; 0.2 had FID <= 18, which failed 37 of 80 blocks)
SUITE_THRESHOLDS = {
    "fid": ("<=", 30.0),
    "recall": (">=", 0.90),
    "coverage": (">=", 0.51),
    "rarest_digit_share": (">=", 0.025),
}


def thresholds_table(data, reference, n: int = 200) -> None:
    rows = data["committed"]["pool"].astype(np.float64)
    logits = data["committed"]["logits"]
    real = np.asarray(reference.features, dtype=np.float64)
    frechet = FrechetSubsets(reference.mu, reference.sigma, rows).distance
    values = {"fid": [], "recall": [], "coverage": [], "rarest_digit_share": []}
    for b in range(len(rows) // n):
        block = slice(b * n, (b + 1) * n)
        values["fid"].append(frechet(np.arange(b * n, (b + 1) * n)))
        values["recall"].append(precision_recall(real, rows[block], k=3).recall)
        values["coverage"].append(density_coverage(real, rows[block], k=5).coverage)
        counts = np.bincount(logits[block].argmax(1), minlength=10)
        values["rarest_digit_share"].append(counts.min() / counts.sum())
    print(f"\n## 4. Digits suite metrics, committed model, {len(rows) // n} disjoint blocks of {n} seeds")
    print(
        f"{'metric':<20} {'mean':>8} {'sd':>8} {'q0.5%':>8} {'q2.5%':>8} {'q50%':>8} {'q97.5%':>8} {'q99.5%':>8} {'block 0':>8}"
    )
    for name, series in values.items():
        series = np.asarray(series)
        q = np.quantile(series, [0.005, 0.025, 0.5, 0.975, 0.995])
        print(
            f"{name:<20} {series.mean():>8.4g} {series.std(ddof=1):>8.3g} "
            + " ".join(f"{v:>8.4g}" for v in q)
            + f" {series[0]:>8.4g}"
        )
    for name, (relation, bound) in SUITE_THRESHOLDS.items():
        series = np.asarray(values[name])
        fails = int((series > bound).sum() if relation == "<=" else (series < bound).sum())
        print(f"the suite's {name} {relation} {bound:g} fails {fails}/{len(series)} blocks of the committed model")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 200 only, 8 blocks per arm, no KID / shipped gate")
    parser.add_argument("--seeds", type=int, default=16000, help="seeds per arm (multiple of 800)")
    parser.add_argument("--small-seeds", type=int, default=4000, help="seeds of the round-off arms")
    parser.add_argument("--margin-sds", type=float, default=DEFAULT_MARGIN_SDS)
    parser.add_argument("--fid-margin", type=float, default=FID_MARGIN, help="FID units at N = infinity")
    parser.add_argument(
        "--score",
        default="FID swap",
        choices=("FID swap", "fid_influence") + SCORES,
        help="score of the sequential table",
    )
    parser.add_argument("--spending", default="obf", help="'obf' or a power-family rho such as 1")
    parser.add_argument("--futility-z", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.time()
    arms = [arm for arm in ARMS]
    data = load_arms(args.seeds, args.small_seeds, arms)
    reference = load_reference()
    real = np.asarray(reference.features, dtype=np.float64)
    gaussian = GaussianReference(reference.mu, reference.sigma)
    radii = reference_radii(real)
    scores = {arm: per_image_scores(data[arm], reference, gaussian, radii) for arm in arms}
    shared = {
        "pool": {arm: data[arm]["pool"] for arm in arms},
        "mu": reference.mu,
        "sigma": reference.sigma,
        "real": real,
        "scores": scores,
        "margin_sds": args.margin_sds,
        "fid_margin": args.fid_margin,
    }
    _init(shared)
    print(
        f"# bench_drift_real: {len(arms)} arms, {args.seeds} seeds ({args.small_seeds} for {', '.join(SMALL_ARMS)}); "
        f"reference {reference.n} held-out digits; generation {sum(d['seconds'][0] for a, d in data.items() if a != 'rerun'):.0f} s cached"
    )
    effects = effects_table(data, scores, arms)
    sizes = (200,) if args.quick else (200, 500)
    jobs = []
    for n in sizes:
        for arm in arms:
            if arm in ("committed", "rerun"):
                continue
            blocks = len(data[arm]["pool"]) // n
            blocks = min(blocks, 8 if args.quick else 40)
            # the shipped gate's permutation test is the slow part (up to 800 FID draws): N = 200 only
            jobs += [(arm, n, b * n, not args.quick, n == 200) for b in range(blocks)]
    with multiprocessing.get_context("fork").Pool(args.workers, _init, (shared,)) as pool:
        outcomes = pool.map(compare_block, jobs, chunksize=4)
    results = {}
    for job, outcome in zip(jobs, outcomes):
        results.setdefault((job[0], job[1]), []).append(outcome)
    shown = [arm for arm in arms if arm not in ("committed", "rerun")]
    statistics = ["FID gate", "FID z"] + ([] if args.quick else ["KID z"]) + ["fid_influence"] + list(SCORES)
    for n in sizes:
        power_table(results, shown, statistics, n, effects)
        power_table(results, shown, [f"{s}+m" for s in ("fid_influence",) + SCORES], n, effects)
    effects["rerun"] = effects["committed"] = {"dfid_sd": 0.0}
    for n in sizes:
        for score in dict.fromkeys([args.score, "fid_influence", "classifier_entropy"]):
            sequential_table(
                scores, ["rerun"] + shown, n, score, args.margin_sds, args.spending, args.futility_z, effects
            )
    thresholds_table(data, reference)
    print(f"\n(total {time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
