"""The drift gate (issue 10): a worsening larger than a margin, paired when seeds match.

Fast seeded statistical checks on small Gaussian features (d=16, N=64); the full calibration
(d=2048, N=256 and 1024) is benchmarks/bench_drift_calibration.py.
"""

import numpy as np
import pytest

from pytest_genquality.metrics.frechet import FrechetSubsets
from pytest_genquality.settings import parse_drift_margins
from pytest_genquality.stats.drift import (
    AUTO_MARGIN_SDS,
    DRIFT_ALPHA,
    margin_bootstrap_test,
    margin_test,
    per_sample_noise_sd,
    seed_noise_sd,
)
from pytest_genquality.stats.drift import (
    CLEAR_MIN_DRAWS,
    NOISE_BOUND_FRACTION,
    NOISE_BOUND_SAFETY,
    SMOOTH_NULL_MIN_DRAWS,
    _sequential_tail,
    normal_margin_p,
)

from toy import project_conftest, pytester_project

DIM, N = 16, 64
SCALES = np.sqrt(1.0 / np.arange(1, DIM + 1))  # power-law spectrum
OFFSET = 0.5 * SCALES  # the model sits away from the reference, as a real generator does


def model_rows(seeds, *, shift=0.0, latent_scale=1.0):
    latents = np.stack([np.random.default_rng(int(s)).standard_normal(DIM) for s in seeds])
    direction = OFFSET / np.linalg.norm(OFFSET)
    return OFFSET + shift * direction + latent_scale * latents * SCALES


def fid_statistic(pooled):
    return FrechetSubsets(np.zeros(DIM), np.diag(SCALES**2), pooled).distance


def gate(baseline, current, *, paired, seed=0, smooth_null=False):
    noise = seed_noise_sd(baseline, fid_statistic)
    return margin_test(
        baseline,
        current,
        fid_statistic,
        worse_sign=1,
        margin=AUTO_MARGIN_SDS * noise,
        paired=paired,
        noise_sd=noise,
        seed=seed,
        smooth_null=smooth_null,
    )


@pytest.fixture(scope="module")
def true_fid_noise():
    """SD of FID(current) - FID(baseline) over independent seed sets of the same model."""
    differences = []
    for pair in range(150):
        rows = model_rows(range(900_000 + pair * 2 * N, 900_000 + (pair + 1) * 2 * N))
        statistic = fid_statistic(rows)
        differences.append(statistic(np.arange(N, 2 * N)) - statistic(np.arange(N)))
    return float(np.std(differences, ddof=1))


def test_seed_noise_estimate_from_the_baseline_alone_is_close_and_errs_high(true_fid_noise):
    estimates = [seed_noise_sd(model_rows(range(t * N, (t + 1) * N)), fid_statistic, seed=t) for t in range(12)]
    ratio = np.median(estimates) / true_fid_noise
    assert 0.9 <= ratio <= 1.6, f"seed_noise_sd / true seed noise = {ratio:.2f}"


def test_harmless_numerical_noise_stays_far_inside_the_margin():
    """Per-sample noise of 1e-2 of each feature's SD (a kernel change) moves FID by a real but
    meaningless amount: far inside the margin, so it is never resampled and never fails."""
    for trial in range(20):
        seeds = range(trial * N, (trial + 1) * N)
        baseline = model_rows(seeds)
        current = baseline + 1e-2 * SCALES * np.random.default_rng(trial).standard_normal(baseline.shape)
        result = gate(baseline, current, paired=True, seed=trial)
        assert result.method == "inside-margin" and abs(result.worsening) < 0.1 * result.margin


@pytest.mark.parametrize("change", ["retrained", "seed-only"])
def test_same_distribution_changes_stay_quiet(change):
    """A re-trained equivalent model (same seeds, new seed->row map: paired) or other seeds (unpaired).

    The gate fails only beyond margin + the null's tail: about 0.75 + 2.6 seed-noise SDs, a
    per-metric rate near 4e-4. Over 60 trials even one alarm would be unexpected (P ~ 3 %).
    """
    alarms = 0
    for trial in range(60):
        seeds = np.arange(trial * N, (trial + 1) * N)
        baseline = model_rows(seeds)
        current = model_rows(seeds + 5_000_000)
        alarms += gate(baseline, current, paired=change == "retrained", seed=trial).significant_worsening
    assert alarms <= 1


def test_a_paired_mean_shift_of_1_5_seed_noise_sds_is_caught_and_its_opposite_improves(true_fid_noise):
    norm = float(np.linalg.norm(OFFSET))
    shift = -norm + np.sqrt(norm**2 + 1.5 * true_fid_noise)  # |mu + s u|^2 - |mu|^2 = 1.5 SD
    caught, improved, failed_opposite = 0, 0, 0
    trials = 20
    for trial in range(trials):
        seeds = range(trial * N, (trial + 1) * N)
        baseline = model_rows(seeds)
        caught += gate(baseline, model_rows(seeds, shift=shift), paired=True, seed=trial).significant_worsening
        better = gate(baseline, model_rows(seeds, shift=-shift), paired=True, seed=trial)
        improved += better.significant_improvement
        failed_opposite += better.significant_worsening
    assert caught >= 0.9 * trials
    assert failed_opposite == 0 and improved >= 0.5 * trials


def test_inside_the_margin_nothing_is_resampled():
    baseline = model_rows(range(N))
    result = margin_test(baseline, baseline, fid_statistic, worse_sign=1, margin=0.5, paired=True)
    assert (result.method, result.p_value, result.resamples) == ("inside-margin", 1.0, 0)
    calls = []

    def counting(pooled):
        calls.append(1)
        return fid_statistic(pooled)

    shortcut = margin_test(baseline, baseline, counting, worse_sign=1, margin=0.5, paired=True, observed=0.1)
    assert shortcut.method == "inside-margin" and not calls, "a known observed value inside the margin builds nothing"


def test_sequential_p_value_stops_early_with_the_full_decision():
    rng = np.random.default_rng(0)
    p_value, drawn = _sequential_tail(rng.standard_normal, 0.0, alpha=DRIFT_ALPHA, max_resamples=400)
    assert drawn < 20 and p_value > DRIFT_ALPHA  # half the null is above 0: stopped after 2 exceedances
    p_clear, drawn_clear = _sequential_tail(
        np.random.default_rng(1).standard_normal,
        8.0,
        alpha=DRIFT_ALPHA,
        max_resamples=400,
        min_clear_draws=SMOOTH_NULL_MIN_DRAWS,
    )
    assert drawn_clear <= 12 and p_clear < DRIFT_ALPHA / 50  # 8 null SDs out: a clear rejection, predictive t tail
    _, drawn_lumpy = _sequential_tail(
        np.random.default_rng(1).standard_normal, 8.0, alpha=DRIFT_ALPHA, max_resamples=400
    )
    assert drawn_lumpy == CLEAR_MIN_DRAWS  # a null not known to be smooth (k-NN metrics) waits for 24 draws
    p_close, drawn_close = _sequential_tail(
        np.random.default_rng(2).standard_normal, 2.9, alpha=DRIFT_ALPHA, max_resamples=400
    )
    assert drawn_close == 400 or p_close > DRIFT_ALPHA  # near the edge: every draw, or stopped as not significant


def test_a_clear_regression_is_decided_with_a_few_draws():
    p_far, drawn_far = _sequential_tail(
        np.random.default_rng(3).standard_normal,
        20.0,
        alpha=DRIFT_ALPHA,
        max_resamples=400,
        min_clear_draws=SMOOTH_NULL_MIN_DRAWS,
    )
    assert drawn_far <= 6 and p_far < DRIFT_ALPHA / 50
    baseline = model_rows(range(N))
    caught = gate(baseline, model_rows(range(N), shift=1.0), paired=True, smooth_null=True)
    assert caught.significant_worsening and caught.method == "paired-permutation" and caught.resamples <= 10


def counting_statistic(calls):
    def make(pooled):
        calls.append(1)
        return fid_statistic(pooled)

    return make


def test_the_noise_sd_bound_fails_a_far_worsening_without_resampling():
    baseline = model_rows(range(N))
    calls = []
    far = margin_test(
        baseline,
        baseline,
        counting_statistic(calls),
        worse_sign=1,
        margin=0.1,
        paired=True,
        noise_sd=0.1,
        observed=0.1 + 12 * 0.1,
        noise_sd_is_upper_bound=True,
    )
    assert far.method == "noise-sd-bound" and far.significant_worsening and far.resamples == 0 and not calls
    better = margin_test(
        baseline,
        baseline,
        fid_statistic,
        worse_sign=1,
        margin=0.1,
        paired=True,
        noise_sd=0.1,
        observed=-1.4,
        noise_sd_is_upper_bound=True,
    )
    assert better.significant_improvement and not better.significant_worsening
    # without the caller's word that noise_sd bounds the noise (coverage), the same numbers are resampled
    unbounded = margin_test(
        baseline, baseline, counting_statistic(calls), worse_sign=1, margin=0.1, paired=True, noise_sd=0.1, observed=0.7
    )
    assert unbounded.method == "inside-margin" or unbounded.method == "paired-permutation"
    assert calls


def test_the_noise_sd_bound_has_level_alpha_over_50():
    """A worsening at the margin plus normal noise of SD noise_sd (the bound's worst case) fails at most alpha/50.

    Checked against the normal tail: the bound fires only beyond the worsening whose normal p is alpha/50
    (its t tail with 63 df is wider), and a borderline worsening is left to the permutation test.
    """
    level = DRIFT_ALPHA * NOISE_BOUND_FRACTION
    margin, noise = 0.3, 0.4
    baseline = model_rows(range(N))
    for z in np.linspace(0.5, 12.0, 24):
        observed = margin + z * noise
        calls = []
        result = margin_test(
            baseline,
            baseline + 0.0,
            counting_statistic(calls),
            worse_sign=1,
            margin=margin,
            paired=True,
            noise_sd=noise,
            observed=observed,
            noise_sd_is_upper_bound=True,
        )
        if result.method == "noise-sd-bound":
            assert normal_margin_p(observed, margin, NOISE_BOUND_SAFETY * noise) < level and not calls
        else:
            assert calls, "not decided by the bound: the statistic is built and resampled"
    draws = margin + noise * np.random.default_rng(4).standard_normal(200_000)
    fired = sum(
        margin_test(
            baseline,
            baseline,
            fid_statistic,
            worse_sign=1,
            margin=margin,
            paired=True,
            noise_sd=noise,
            observed=float(x),
            noise_sd_is_upper_bound=True,
        ).method
        == "noise-sd-bound"
        for x in draws[draws > margin + 3.5 * noise]
    )
    assert fired / draws.size <= level


def test_a_borderline_worsening_is_still_resampled_with_the_bound():
    baseline = model_rows(range(N))
    noise = seed_noise_sd(baseline, fid_statistic)
    current = model_rows(range(N), shift=0.08)
    result = margin_test(
        baseline,
        current,
        fid_statistic,
        worse_sign=1,
        margin=AUTO_MARGIN_SDS * noise,
        paired=True,
        noise_sd=noise,
        noise_sd_is_upper_bound=True,
    )
    assert result.worsening > result.margin and result.method == "paired-permutation" and result.resamples > 0


def test_margin_bootstrap_for_per_sample_metrics():
    rng = np.random.default_rng(5)
    baseline = rng.normal(30, 2, 128)
    noise = per_sample_noise_sd(baseline)
    assert noise == pytest.approx(np.std(baseline, ddof=1) * np.sqrt(2 / 128))
    harmless = baseline + rng.normal(0, 0.01, 128)  # numerical noise on CLIP scores
    quiet = margin_bootstrap_test(baseline, harmless, worse_sign=-1, margin=AUTO_MARGIN_SDS * noise, paired=True)
    assert not quiet.significant_worsening
    worse = baseline - 2 * noise + rng.normal(0, 0.1, 128)
    caught = margin_bootstrap_test(baseline, worse, worse_sign=-1, margin=AUTO_MARGIN_SDS * noise, paired=True)
    assert caught.significant_worsening and caught.method == "paired-bootstrap"


def test_margin_test_validates_its_arguments():
    rows = model_rows(range(N))
    with pytest.raises(ValueError, match=r"margin: expected a finite number >= 0 .* got -1"):
        margin_test(rows, rows, fid_statistic, worse_sign=1, margin=-1, paired=True)
    with pytest.raises(ValueError, match="paired: baseline and current must have one row per seed"):
        margin_test(rows, rows[:10], fid_statistic, worse_sign=1, margin=0.1, paired=True)
    with pytest.raises(ValueError, match="worse_sign"):
        margin_bootstrap_test(rows[:, 0], rows[:, 0], worse_sign=2, margin=0.1, paired=False)


def test_drift_margin_setting_parses_and_names_bad_items():
    assert parse_drift_margins("fid=0.5, recall@coco = 0.01\nkid=0") == (
        ("fid", 0.5),
        ("recall@coco", 0.01),
        ("kid", 0.0),
    )
    assert parse_drift_margins(None) == ()
    with pytest.raises(ValueError, match=r"--gen-drift-margin: expected METRIC=MARGIN .* got 'fid'"):
        parse_drift_margins("fid")
    with pytest.raises(ValueError, match=r"got 'fid=-2'"):
        parse_drift_margins("fid=-2")


# ---- end to end (pytester) -------------------------------------------------------------------
CONFTEST = project_conftest(
    extra="""
class NoisyExtractor(ToyExtractor):
    '''The toy extractor plus per-sample numerical noise (a kernel change): same id, same weights.'''

    def __call__(self, images):
        out = super().__call__(images)
        scale = float(os.environ.get("TOY_FEATURE_NOISE", "0"))
        if scale:
            import torch
            noise = torch.randn(out["pool"].shape, generator=torch.Generator().manual_seed(1))
            out["pool"] = out["pool"] + scale * out["pool"].std(dim=0) * noise
        return out

@pytest.fixture
def noisy_extractor():
    return NoisyExtractor()

@pytest.fixture
def shift():
    return float(os.environ.get("TOY_SHIFT", "0.2"))
"""
)

TESTS = """
from toy import toy_images
from pytest_genquality import assert_fid_below

def test_a(ref, noisy_extractor, shift):
    assert_fid_below(toy_images(range(64), shift=shift), ref, 100.0, extractor=noisy_extractor)
"""


@pytest.fixture
def project(pytester, monkeypatch):
    return pytester_project(
        pytester, monkeypatch, CONFTEST, clear_env=("TOY_SHIFT", "TOY_FEATURE_NOISE"), test_quality=TESTS
    )


def test_numerical_noise_passes_and_the_table_shows_margin_and_p(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    monkeypatch.setenv("TOY_FEATURE_NOISE", "1e-2")
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test*metric*value*CI / noise*threshold*baseline*delta*margin*p*verdict*",
            "*test_quality.py::test_a*fid@real*inside*pass*",
        ]
    )


def test_regression_fails_naming_margin_worsening_and_p_then_update_accepts_it(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    monkeypatch.setenv("TOY_SHIFT", "0.35")
    worse = project.runpytest()
    worse.assert_outcomes(failed=1)
    # FID's default margin is 5 % of the baseline; the evidence is the paired-swap z
    worse.stdout.fnmatch_lines(
        [
            "*FID drifted from its baseline: worse by *, beyond the margin * (default: 5% of the "
            "baseline FID; set gen_drift_margin): paired swap-z z=* >= bound 2.81 (n=64), nominal p=* < 0.0025*"
        ]
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)


def test_a_margin_in_metric_units_from_the_ini_file(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.makeini("[pytest]\ngen_drift_margin = fid=1000\n")
    monkeypatch.setenv("TOY_SHIFT", "0.35")
    tolerated = project.runpytest("-rA")
    tolerated.assert_outcomes(passed=1)
    project.makeini("[pytest]\ngen_drift_margin = fid@real=0\n")
    strict = project.runpytest()
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*beyond the margin 0 (gen_drift_margin)*"])


def test_pairing_needs_seeds_that_are_surely_the_same():
    from pytest_genquality.checks.workflow import same_seeds

    assert same_seeds("0..255", "0..255") and same_seeds("3, 9, 12", "3, 9, 12")
    assert not same_seeds("0..255", "256..511")
    assert not same_seeds("unseeded", "unseeded")
    assert not same_seeds("1, 2, 3, 5, 8, 13, ... (300 seeds)", "1, 2, 3, 5, 8, 13, ... (300 seeds)")
    assert not same_seeds(None, "0..63")
