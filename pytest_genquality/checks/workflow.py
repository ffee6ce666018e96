"""The one workflow every quality assertion goes through (one workflow, many metrics).

    compute (the caller) -> record -> compare with the baseline of the same metric key,
    extractor id and lane -> verdict -> message

A metric is described by a ``MetricSpec`` (name, direction, family, evidence); the evidence
decides which test "auto" drift uses. Improvements are reported, never failed.

"auto" drift is a margin test: H0 "the metric is worse than its baseline by at most the
margin" against H1 "worse by more", one-sided at level ``ALPHA``.

- FID and KID (``evidence="swap-z"``): z = (worsening - margin) / SD of the paired-swap null
  (``stats.swap_z``), judged by a group-sequential design (``stats.sequential``): a test whose
  batch can grow (``generate(..., max_seeds=M)``) and whose baseline stored M rows looks at
  N, 2N, ... M seeds, asking for the next block only while the verdict is undecided. Without
  growth it is the one-look test z >= z_(1-alpha). This was chosen on a real model
  (benchmarks/bench_drift_real.py, README "Drift gate").
- Other distribution metrics: the re-assignment margin test (``stats.margin_test``);
  per-sample metrics: a bootstrap of the mean; ``log_nn_distance``: a normal test.

The margin is the user's (``--gen-drift-margin`` / ``gen_drift_margin``, metric units), else a
default share of the baseline value where one is meaningful (FID: 5 %), else
``AUTO_MARGIN_SDS`` seed-noise SDs (estimated from the baseline's rows under ``--update-refs``
and stored with it). Baseline and current are paired (same seeds) whenever their seed ranges
are equal.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from . import run_state as session_module
from ..store.provenance import utc_now
from ..stats.rules import threshold_crossed, tolerance_verdict
from ..stats import parse_max_drift  # noqa: F401  (public here since 0.1)
from ..stats import (
    AUTO_MARGIN_SDS,
    DRIFT_ALPHA,
    NORMAL_TEST_NOISE_FACTOR,
    DriftTest,
    MarginTest,
    margin_bootstrap_test,
    margin_test,
    normal_margin_test,
    per_sample_noise_sd,
    seed_noise_sd,
)
from ..stats.sequential import FUTILITY_Z, make_design
from ..stats.swap_z import SWAPS, normal_upper_tail, swap_z
from ..store.layout import array_name
from ..errors import BaselineMismatchError, MetricCheckFailed  # noqa: F401  (0.2 import path)

ALPHA = DRIFT_ALPHA  # one-sided level of each "auto" margin test (README "Drift gate")
MIN_DRIFT_SAMPLES = 8  # fewer samples than this per side cannot support a noise test
# Default margins as a share of the baseline's value, independent of N: "FID worse by at most 5 %
# is harmless" (FID's bias ~1/N is the same on both sides at equal N, so a difference at equal N
# estimates the difference at N = infinity). A share, not FID units, because FID's scale is the
# extractor's: ~18 on the digits classifier's features, 20-40 on Inception, ~1 on toy features.
# On the digits model 5 % is 0.9 FID, where benchmarks/bench_drift_real.py measured the gate.
# Metrics not listed use AUTO_MARGIN_SDS seed-noise SDs.
DEFAULT_RELATIVE_MARGINS = {"fid": 0.05}
TIMING_MIN_RUNS = 3  # repeated timings per side behind a speed drift test (a SD from 2 runs is too rough)


@dataclass(frozen=True)
class MetricSpec:
    name: str  # key stem in the store: "fid", "clip_score"
    label: str  # for people: "FID", "CLIP score"
    higher_is_better: bool
    family: str  # "distribution" | "per-sample" | "scalar"
    noise_test: str = "resample"  # "resample": margin_test / margin_bootstrap_test; "normal": normal_margin_test
    # the baseline-only seed-noise SD is close to this metric's noise or above it in the median
    # (FID: 0.82-1.19x), so margin_test may fail a far worsening on twice it without resampling
    # (stats.margin_test, NOISE_BOUND_SAFETY)
    noise_sd_is_upper_bound: bool = False
    smooth_null: bool = False  # near-normal re-assignment null: a clear regression decided in 4 draws
    evidence: str = "resample"  # "swap-z": z over the paired-swap null SD, with sequential looks
    # fewest samples per side a noise test runs on; timings have a few repeated runs, not seeds
    min_samples: int = MIN_DRIFT_SAMPLES
    noise_source: str = "seed-noise"  # what the rows' spread is, in margin messages: timings are "run-to-run"

    @property
    def worse_sign(self) -> int:
        return -1 if self.higher_is_better else 1


SPECS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("fid", "FID", False, "distribution", evidence="swap-z"),
        MetricSpec("kid", "KID", False, "distribution", evidence="swap-z"),
        MetricSpec("inception_score", "Inception Score", True, "distribution"),
        MetricSpec("precision", "precision", True, "distribution"),
        MetricSpec("recall", "recall", True, "distribution"),
        MetricSpec("density", "density", True, "distribution"),
        MetricSpec("coverage", "coverage", True, "distribution"),
        MetricSpec("cmmd", "CMMD", False, "distribution"),
        MetricSpec("log_nn_distance", "log NN distance", True, "distribution", noise_test="normal"),
        MetricSpec("clip_score", "CLIP score", True, "per-sample"),
        MetricSpec("lpips", "LPIPS", False, "per-sample"),
        MetricSpec("ssim", "SSIM", True, "per-sample"),
        MetricSpec("psnr", "PSNR", True, "per-sample"),
        MetricSpec("max_abs", "max |diff|", False, "per-sample"),
        # issue 21: preference and aesthetic scores are per-image means, paired by seed like CLIP score
        MetricSpec("pickscore", "PickScore", True, "per-sample"),
        MetricSpec("hps", "HPSv2", True, "per-sample"),
        MetricSpec("aesthetic", "LAION aesthetic", True, "per-sample"),
        MetricSpec("vendi", "Vendi score", True, "distribution"),
        MetricSpec("fd_infinity", "FD∞", False, "distribution", noise_sd_is_upper_bound=True, smooth_null=True),
        # rows: seconds per image of repeated runs; "normal": noise_sd = run-to-run SD x sqrt(2/runs)
        MetricSpec(
            "seconds_per_image",
            "seconds per image",
            False,
            "per-sample",
            noise_test="normal",
            min_samples=TIMING_MIN_RUNS,
            noise_source="run-to-run",
        ),
        MetricSpec("peak_memory", "peak device memory", False, "scalar"),
    )
}


def custom_margin_names(margins: tuple[tuple[str, float], ...]) -> list[str]:
    """The ``--gen-drift-margin`` names that are not shipped metrics (those of ``assert_metric``, or
    nothing at all: the plugin warns at the end of the session when no metric had that name).

    A name one typo away from a shipped metric's (``fdi``, ``recal``, ``FID``) is a ValueError
    naming the metric meant: ignored silently, it would leave that metric on the default margin.
    """
    custom = []
    for key, _ in margins:
        name = key.partition("@")[0]
        if name in SPECS:
            continue
        meant = [known for known in SPECS if _one_typo_apart(name.lower(), known)]
        if meant:
            raise ValueError(
                f"--gen-drift-margin: unknown metric {name!r} in {key!r} (did you mean {meant[0]!r}?); "
                f"known metrics: {', '.join(SPECS)}, or a name given to assert_metric"
            )
        custom.append(key)
    return custom


def _one_typo_apart(a: str, b: str) -> bool:
    """Equal, or one edit apart (two for names of 6+ letters): insert, delete, substitute, swap neighbours."""
    if a == b:
        return True
    limit = 2 if min(len(a), len(b)) >= 6 else 1
    if abs(len(a) - len(b)) > limit:
        return False
    previous2, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if previous2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1] <= limit


@dataclass
class DriftEvidence:
    """What the noise test needs: current samples and how to recompute the metric on rows.

    ``rows``: current feature rows [N, d] (distribution) or per-sample values [N] (per-sample).
    ``make_statistic(pooled) -> statistic(indices)``: distribution metrics only.
    ``make_noise_statistic``: the same, cheaper and rounder, for the seed-noise estimate only
    (``stats.seed_noise_sd``: its ~9 % statistical error dwarfs float32 rounding); default
    ``make_statistic``.
    ``paired``: per-sample values that belong to the same seeds as the baseline's.
    """

    rows: np.ndarray
    make_statistic: Callable | None = None
    paired: bool = False
    make_noise_statistic: Callable | None = None
    # a batch that can grow (generate(..., max_seeds=M)): rows_for(count) gives the current
    # rows of the first ``count`` seeds (generating the missing blocks), up to ``max_rows`` = M
    rows_for: Callable[[int], np.ndarray] | None = None
    max_rows: int | None = None


@dataclass
class MetricResult:
    name: str
    value: float
    n: int | None
    extractor_id: str | None
    baseline: float | None
    noise: Any
    verdict: str  # pass | improved | fail | no-baseline | updated | error
    key: str = ""
    test: str = ""
    lane: str = ""
    threshold: float | None = None
    delta: float | None = None
    ci: tuple[float, float] | None = None
    baseline_commit: str | None = None
    reason: str = ""
    higher_is_better: bool = False
    seeds: str = ""
    details: dict = field(default_factory=dict)  # how the value was computed, e.g. KID's subset_size used
    batch: str = ""  # content fingerprint of the measured batch (batch_fingerprint), "" if none

    def as_dict(self) -> dict:
        noise = self.noise.as_dict() if isinstance(self.noise, (DriftTest, MarginTest)) else self.noise
        return {
            "test": self.test,
            "metric": self.name,
            "key": self.key,
            "value": self.value,
            "n": self.n,
            "extractor_id": self.extractor_id,
            "lane": self.lane,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "baseline_commit": self.baseline_commit,
            "delta": self.delta,
            "ci": list(self.ci) if self.ci else None,
            "noise": noise,
            "verdict": self.verdict,
            "reason": self.reason,
            "higher_is_better": self.higher_is_better,
            "seeds": self.seeds,
            **({"details": dict(self.details)} if self.details else {}),
            **({"batch": self.batch} if self.batch else {}),
        }


_BATCH_FINGERPRINTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def batch_fingerprint(batch) -> str:
    """First 16 hex of the sha256 of a batch's pixels, once per batch object.

    Results that share it measured the same images, in one test or several: the summary does
    not invite locking in one metric's improvement while another metric of those images failed.
    """
    if batch not in _BATCH_FINGERPRINTS:
        from ..generation.cache import images_sha256

        _BATCH_FINGERPRINTS[batch] = images_sha256(batch.images)[:16]
    return _BATCH_FINGERPRINTS[batch]


def baseline_noise_sd(spec: MetricSpec, evidence: DriftEvidence | None, rows) -> float | None:
    """Seed-noise SD of the metric at the baseline's N, from the baseline's own (stored) rows.

    Computed once under ``--update-refs`` and stored in the baseline entry (``noise_sd``), so a
    later check whose worsening is inside the margin costs nothing but the metric. None when
    the metric has no samples to estimate it from.
    """
    if evidence is None or rows is None or len(rows) < spec.min_samples:
        return None
    rows = np.asarray(rows)
    if spec.family == "distribution":
        if evidence.make_statistic is None:
            return None
        noise_sd = seed_noise_sd(
            rows.astype(np.float16).astype(np.float64), evidence.make_noise_statistic or evidence.make_statistic
        )
        return noise_sd * NORMAL_TEST_NOISE_FACTOR if spec.noise_test == "normal" else noise_sd
    return per_sample_noise_sd(rows)


def drift_noise_test(
    spec: MetricSpec,
    evidence: DriftEvidence | None,
    stored: np.ndarray | None,
    *,
    observed: float,
    noise_sd: float | None = None,
    margin: float | None = None,
    paired: bool = False,
    adaptive: bool = True,
    baseline_value: float | None = None,
) -> MarginTest | str:
    """The margin test of ``current - baseline`` (= ``observed``), or why none could run.

    ``noise_sd``: stored with the baseline (computed here from the stored rows when an older
    baseline lacks it); ``margin``: the user's, in metric units (default
    ``DEFAULT_RELATIVE_MARGINS`` of ``baseline_value``, else ``AUTO_MARGIN_SDS`` seed-noise SDs);
    ``paired``: baseline and current come from the same seeds, row for row; ``adaptive``:
    swap-z evidence may grow the batch (``--gen-max-n``).
    """
    if evidence is None:
        return "untested: this metric has no per-sample evidence to test drift against noise"
    if stored is None:
        return "untested: the baseline has no stored samples (re-run `pytest --update-refs`)"
    current = np.asarray(evidence.rows)
    if min(len(stored), len(current)) < spec.min_samples:
        return f"untested: fewer than {spec.min_samples} samples per side"
    if spec.family == "distribution" and evidence.make_statistic is None:
        return "untested: no statistic to permute"
    swap_evidence = spec.evidence == "swap-z" and spec.family == "distribution"
    if (
        spec.family == "distribution"
        and len(stored) != len(current)
        and not (swap_evidence and len(stored) > len(current))
    ):
        return "untested: baseline and current sample counts differ"
    paired = paired and len(stored) >= len(current)
    rule = "gen_drift_margin"
    if margin is None and spec.name in DEFAULT_RELATIVE_MARGINS and baseline_value is not None:
        share = DEFAULT_RELATIVE_MARGINS[spec.name]
        margin, rule = share * abs(baseline_value), f"default: {share:.0%} of the baseline {spec.label}"
    if noise_sd is None and (margin is None or spec.noise_test == "normal"):
        noise_sd = baseline_noise_sd(spec, evidence, stored[: len(current)])
    if margin is None:
        margin = AUTO_MARGIN_SDS * noise_sd
        rule = f"{AUTO_MARGIN_SDS:g} x {spec.noise_source} SD {noise_sd:.3g}"
    if swap_evidence:
        result = _swap_z_gate(
            spec, evidence, stored, margin=margin, paired=paired, adaptive=adaptive, seed_noise_sd=noise_sd
        )
    elif spec.noise_test == "normal":
        result = normal_margin_test(observed, worse_sign=spec.worse_sign, margin=margin, noise_sd=noise_sd)
    elif spec.family == "distribution":
        rounded = current.astype(np.float16).astype(np.float64)
        result = margin_test(
            stored.astype(np.float64),
            rounded,
            evidence.make_statistic,
            worse_sign=spec.worse_sign,
            margin=margin,
            paired=paired,
            noise_sd=noise_sd,
            observed=observed,
            seed=0,
            noise_sd_is_upper_bound=spec.noise_sd_is_upper_bound,
            smooth_null=spec.smooth_null,
        )
    else:
        result = margin_bootstrap_test(
            stored,
            current,
            worse_sign=spec.worse_sign,
            margin=margin,
            paired=paired and evidence.paired,
            noise_sd=noise_sd,
            seed=0,
        )
    return replace(result, margin_rule=rule)


def _swap_z_gate(
    spec: MetricSpec,
    evidence: DriftEvidence,
    stored: np.ndarray,
    *,
    margin: float,
    paired: bool,
    adaptive: bool,
    seed_noise_sd: float | None = None,
) -> MarginTest:
    """Swap-z evidence at looks n, 2n, ... up to the rows both sides can have (one look when none can grow).

    ``seed_noise_sd``: the baseline's stored seed noise, shown for a change inside the margin.
    Current rows are rounded to float16 like the stored baseline's, so an unchanged model
    compares equal bits. The level holds over the looks by the design's alpha spending; its
    futility bound (pass early at z <= ``FUTILITY_Z``) is non-binding.
    """
    n = len(evidence.rows)
    n_max = n
    if adaptive and evidence.rows_for is not None and evidence.max_rows:
        n_max = max(n, min(len(stored), int(evidence.max_rows)))
    design = make_design(n, n_max, alpha=ALPHA, futility_z=FUTILITY_Z)
    stored = np.asarray(stored, dtype=np.float64)
    for look, size in enumerate(design.looks):
        rows = evidence.rows if size == n else evidence.rows_for(size)
        current = np.asarray(rows)[:size].astype(np.float16).astype(np.float64)
        look_z = swap_z(
            stored[:size],
            current,
            evidence.make_statistic,
            worse_sign=spec.worse_sign,
            margin=margin,
            paired=paired,
            seed=look,
        )
        bound = design.efficacy[look]
        decision = design.decide(look, look_z.z)
        if look_z.z_better >= bound:
            decision = "improved"
        if decision != "continue":
            break
    if look_z.null_sd == 0 and abs(look_z.worsening) <= margin:
        # no null was needed: the noise shown is the baseline's stored seed noise, as for other metrics
        return MarginTest(
            "inside-margin",
            look_z.observed,
            look_z.worsening,
            float(margin),
            seed_noise_sd,
            1.0,
            1.0,
            0,
            ALPHA,
            look=look + 1,
            looks=len(design.looks),
            n_used=size,
            n_max=n_max,
        )
    method = "paired swap-z" if paired else "swap-z"
    return MarginTest(
        method,
        look_z.observed,
        look_z.worsening,
        float(margin),
        look_z.null_sd,
        _tail(look_z.z),
        _tail(look_z.z_better),
        SWAPS * (look + 1) if look_z.null_sd else 0,
        ALPHA,
        z=look_z.z,
        bound=float(bound),
        look=look + 1,
        looks=len(design.looks),
        n_used=size,
        n_max=n_max,
    )


def _tail(z: float) -> float:
    return 1.0 if z == -np.inf else normal_upper_tail(z)


def same_seeds(baseline_seeds: str | None, current_seeds: str) -> bool:
    """Whether baseline row i and current row i surely come from one seed (then the test pairs them).

    The store keeps ``ImageBatch.seed_range()``: exact for a contiguous range ("0..255") or up
    to 6 listed seeds; a longer list is abbreviated ("3, 9, ... (300 seeds)") and, like
    "unseeded", cannot prove the pairing, so those compare unpaired (valid, less powerful).
    """
    if not current_seeds or current_seeds == "unseeded" or "..." in current_seeds:
        return False
    return baseline_seeds == current_seeds


def _margin_words(noise: MarginTest) -> str:
    if noise.margin_rule == "gen_drift_margin":
        return f"margin {noise.margin:.4g} (gen_drift_margin)"
    if noise.margin_rule.startswith("default"):
        return f"margin {noise.margin:.4g} ({noise.margin_rule}; set gen_drift_margin)"
    return f"margin {noise.margin:.4g} = {noise.margin_rule}" if noise.margin_rule else f"margin {noise.margin:.4g}"


def p_text(p: float, alpha: float) -> str:
    """``p`` with enough significant digits that it reads on the right side of ``alpha``.

    "p=0.0025 < 0.0025" (true p 2/801 = 0.002497) contradicts itself; this prints 0.002497.
    """
    for digits in range(3, 10):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha) and float(text) != alpha:
            return text
    return repr(p)


def drift_verdict(spec: MetricSpec, value: float, baseline_value: float, max_drift, noise) -> tuple[str, str]:
    """('pass' | 'improved' | 'fail', reason) for a value against its comparable baseline."""
    mode, amount = parse_max_drift(max_drift)
    worsening = spec.worse_sign * (value - baseline_value)
    if mode == "off":
        return "pass", "drift not checked (max_drift=None)"
    if mode in ("absolute", "percent"):
        verdict, worsening, tolerance = tolerance_verdict(
            value, baseline_value, higher_is_better=spec.higher_is_better, mode=mode, amount=amount
        )
        if verdict == "fail":
            return "fail", f"worse by {worsening:.4g}, beyond max_drift={max_drift!r} ({tolerance:.4g})"
        if verdict == "improved":
            return "improved", f"better by {-worsening:.4g}, beyond max_drift={max_drift!r}"
        return "pass", f"within max_drift={max_drift!r}"
    if isinstance(noise, MarginTest):
        return _margin_verdict(noise)
    if not isinstance(noise, DriftTest):
        return "pass", str(noise)
    if worsening > 0 and noise.p_value < ALPHA:
        return "fail", f"worse beyond sampling noise ({noise.method} p={p_text(noise.p_value, ALPHA)} < {ALPHA})"
    if worsening < 0 and noise.p_better < ALPHA:
        return "improved", f"better beyond sampling noise ({noise.method} p={p_text(noise.p_better, ALPHA)})"
    return "pass", f"within sampling noise ({noise.method} p={p_text(noise.p_value, ALPHA)})"


def _evidence_words(noise: MarginTest, p: float, z: float | None = None) -> str:
    """How the decision was reached: the test's p against alpha, and for swap-z its z against the
    look's bound, each with the relation that held ("<" or ">=")."""
    p_words = f"p={p_text(p, noise.alpha)} {'<' if p < noise.alpha else '>='} {noise.alpha:g}"
    if noise.z is None:
        return f"{noise.method} {p_words}"
    z = noise.z if z is None else z
    seeds = f"n={noise.n_used}" + (f" of {noise.n_max}" if noise.n_max and noise.n_max > noise.n_used else "")
    look = f"look {noise.look}/{noise.looks}, " if noise.looks > 1 else ""
    relation = ">=" if z >= noise.bound else "<"
    return f"{noise.method} z={z:.3g} {relation} bound {noise.bound:.3g} ({look}{seeds}), nominal {p_words}"


def noise_z_better(noise: MarginTest) -> float | None:
    """The z of "better by more than the margin" (swap-z evidence only)."""
    if noise.z is None or not noise.noise_sd:
        return None
    return (-noise.worsening - noise.margin) / noise.noise_sd


def _margin_verdict(noise: MarginTest) -> tuple[str, str]:
    worse = f"worse by {noise.worsening:.4g}" if noise.worsening >= 0 else f"better by {-noise.worsening:.4g}"
    if noise.significant_worsening:
        return "fail", (
            f"{worse}, beyond the {_margin_words(noise)}: {_evidence_words(noise, noise.p_value)} "
            f"for 'worse by at most the margin'"
        )
    if noise.significant_improvement:
        return "improved", (
            f"{worse}, beyond the {_margin_words(noise)} "
            f"({_evidence_words(noise, noise.p_better, noise_z_better(noise))})"
        )
    if noise.worsening > noise.margin:
        return "pass", (
            f"{worse}, beyond the {_margin_words(noise)} but not significant ({_evidence_words(noise, noise.p_value)})"
        )
    if -noise.worsening > noise.margin:
        return "pass", (
            f"{worse}, beyond the {_margin_words(noise)} but not significant "
            f"({_evidence_words(noise, noise.p_better, noise_z_better(noise))})"
        )
    if noise.method == "inside-margin":
        seeds = f" at n={noise.n_used} of {noise.n_max}" if noise.n_max and noise.n_max > (noise.n_used or 0) else ""
        return "pass", f"{worse}, within the {_margin_words(noise)}{seeds}"
    p_value = min(noise.p_value, noise.p_better)
    return "pass", f"{worse}, within the {_margin_words(noise)} ({_evidence_words(noise, p_value)})"


def threshold_failed(spec: MetricSpec, value: float, threshold: float | None) -> bool:
    return threshold_crossed(value, threshold, higher_is_better=spec.higher_is_better)


# ---- the workflow --------------------------------------------------------------------------
def check_metric(
    spec: MetricSpec,
    value: float,
    *,
    threshold: float | None = None,
    max_drift="auto",
    n: int | None = None,
    extractor_id: str | None = None,
    lane: str | None = None,
    qualifier: str | None = None,
    seeds: str = "",
    evidence: DriftEvidence | None = None,
    ci: tuple[float, float] | None = None,
    context_lines: tuple[str, ...] = (),
    compare_baseline: bool = True,
    batch=None,
    details: dict | None = None,
) -> MetricResult:
    """Record ``value``, compare it with its threshold and baseline, and raise on failure.

    ``compare_baseline=False``: the check carries its own baseline (paired image checks), so
    no stored value is required or written.
    ``batch``: the ImageBatch measured; when an HTML report is requested the recorder keeps
    downscaled copies of its first images for the report's grid.
    ``details``: how the value was computed (parameters that differ from what was asked, such
    as a clipped KID subset size); recorded with the result in the run file.
    """
    parse_max_drift(max_drift)
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{spec.label}: the metric came out {value}; expected a finite number")
    test_context = session_module.current_test()
    recorder = session_module.current_run()
    lane = lane or (recorder.lane if recorder else "")
    key = spec.name + (f"@{qualifier}" if qualifier else "")
    result = MetricResult(
        spec.name,
        value,
        n,
        extractor_id,
        None,
        None,
        "pass",
        key=key,
        test=test_context.node_id if test_context else "",
        lane=lane,
        threshold=threshold,
        ci=ci,
        higher_is_better=spec.higher_is_better,
        seeds=seeds,
        details=dict(details or {}),
        batch=batch_fingerprint(batch) if batch is not None else "",
    )
    failures = []
    if threshold_failed(spec, value, threshold):
        relation = "below" if spec.higher_is_better else "above"
        failures.append(f"{spec.label} {value:.4g} is {relation} the threshold {threshold:.4g}")

    if test_context is not None:

        def record() -> None:
            _record(spec, result, recorder, test_context, evidence if compare_baseline else None, compare_baseline)
            if batch is not None:
                recorder.keep_thumbnails(test_context, batch)

        try:
            if compare_baseline:
                _compare_with_baseline(spec, result, recorder, test_context, max_drift, evidence, failures)
        except BaselineMismatchError as mismatch:
            result.verdict, result.reason = "error", str(mismatch)
            mismatch.result = result
            record()
            raise
        record()

    if failures:
        if result.verdict != "no-baseline":
            result.verdict = "fail"
        raise MetricCheckFailed(_message(spec, result, failures, context_lines), result)
    return result


def _compare_with_baseline(spec, result, recorder, test_context, max_drift, evidence, failures) -> None:
    if recorder.settings.update_refs:
        result.verdict = "updated"
        result.reason = "baseline written by --update-refs"
        return
    baselines = recorder.store.read_baselines(test_context.test_file)
    lanes = baselines.get(test_context.node_id, {}).get(result.key, {})
    entry = lanes.get(result.lane)
    if entry is None:
        result.verdict = "no-baseline"
        other = (
            f" (baselines exist for other lanes: {', '.join(sorted(lanes))}; they are not compared)" if lanes else ""
        )
        failures.append(
            f"no baseline for {result.key} in {test_context.node_id} on lane {result.lane}{other}: "
            "run `pytest --update-refs`"
        )
        return
    if entry.get("extractor_id") != result.extractor_id:
        raise BaselineMismatchError(
            f"{spec.label} baseline of {test_context.node_id} was measured with extractor {entry.get('extractor_id')}, "
            f"this run with {result.extractor_id}: not comparable. Run `pytest --update-refs` to re-baseline."
        )
    if entry.get("n") != result.n:
        raise BaselineMismatchError(
            f"{spec.label} baseline of {test_context.node_id} was measured at n={entry.get('n')}, this run at "
            f"n={result.n}: values at different N are different quantities (FID's bias grows like 1/N), not a "
            "drift. Keep the seeds fixed, or run `pytest --update-refs` to re-baseline at the new N."
        )
    result.baseline = float(entry["value"])
    result.baseline_commit = entry.get("commit")
    result.delta = result.value - result.baseline
    if parse_max_drift(max_drift)[0] == "auto":
        stored = (
            None
            if evidence is None
            else recorder.store.load_features(test_context.node_id, array_name(result.key, result.lane))
        )
        paired = same_seeds(entry.get("seeds"), result.seeds)
        result.noise = drift_noise_test(
            spec,
            evidence,
            stored,
            observed=result.delta,
            noise_sd=entry.get("noise_sd"),
            margin=recorder.settings.drift_margin_for(result.key, spec.name),
            paired=paired,
            adaptive=recorder.settings.max_n != "off",
            baseline_value=result.baseline,
        )
    verdict, reason = drift_verdict(spec, result.value, result.baseline, max_drift, result.noise)
    result.verdict, result.reason = verdict, reason
    if verdict == "fail":
        failures.append(f"{spec.label} drifted from its baseline: {reason}")


def _record(spec, result, recorder, test_context, evidence, write_baseline: bool) -> None:
    test_context.results.append(result)
    if test_context.record_property is not None:
        test_context.record_property(f"genquality:{result.key}", result.value)
    if not (recorder.settings.update_refs and write_baseline):
        return
    entry = {
        "value": result.value,
        "n": result.n,
        "extractor_id": result.extractor_id,
        "lane": result.lane,
        "threshold": result.threshold,
        "ci": list(result.ci) if result.ci else None,
        "seeds": result.seeds,
        "commit": recorder.provenance.get("commit"),
        "dirty": recorder.provenance.get("dirty"),
        "branch": recorder.provenance.get("branch"),
        "updated": utc_now(),
        "versions": recorder.provenance.get("versions"),
        "higher_is_better": spec.higher_is_better,
        "noise_sd": baseline_noise_sd(spec, evidence, None if evidence is None else evidence.rows),
    }
    test_context.pending_entries.setdefault(result.key, {})[result.lane] = entry
    if evidence is not None:
        rows = _baseline_rows(spec, evidence)
        entry["stored_rows"] = len(rows)
        stored = rows.astype(np.float16) if spec.family == "distribution" else rows.astype(np.float32)
        test_context.pending_arrays[array_name(result.key, result.lane)] = stored


def _baseline_rows(spec: MetricSpec, evidence: DriftEvidence) -> np.ndarray:
    """The rows a baseline keeps: for swap-z evidence of a batch that can grow, all ``max_rows``
    seeds (so later checks can look at more seeds than the test's N), else the test's own rows."""
    if (
        spec.evidence == "swap-z"
        and evidence.rows_for is not None
        and evidence.max_rows
        and evidence.max_rows > len(evidence.rows)
    ):
        return np.asarray(evidence.rows_for(int(evidence.max_rows)))
    return np.asarray(evidence.rows)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _message(spec, result, failures, context_lines) -> str:
    where = f"  ({result.test})" if result.test else ""
    lines = [failures[0] + where, *failures[1:]]
    lines.extend(context_lines)
    tail = []
    if result.ci:
        tail.append(f"95% CI [{result.ci[0]:.4g}, {result.ci[1]:.4g}]")
    if result.baseline is not None:
        commit = f" @ {result.baseline_commit}" if result.baseline_commit else ""
        noise = ""
        if isinstance(result.noise, MarginTest):
            noise = f", margin {result.noise.margin:.4g}, p={p_text(result.noise.p_value, result.noise.alpha)}"
        elif isinstance(result.noise, DriftTest):
            noise = f", noise ±{result.noise.band:.3g}, p={p_text(result.noise.p_value, ALPHA)}"
        tail.append(f"baseline {_fmt(result.baseline)}{commit}  (drift {result.delta:+.4g}{noise})")
    if tail:
        lines.append("  " + "      ".join(tail))
    return "\n".join(lines)
