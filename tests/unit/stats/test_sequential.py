"""The group-sequential drift design: bounds against closed forms and published values, level by simulation."""

import math

import numpy as np
import pytest
from scipy import stats

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from drift_candidates import margin_z
from pytest_genquality.stats.sequential import efficacy_bounds, make_design, obrien_fleming_spending, power_spending


def test_one_look_is_the_fixed_n_test():
    assert efficacy_bounds([1.0], alpha=0.0025)[0] == pytest.approx(stats.norm.isf(0.0025), abs=1e-7)


def test_first_bound_spends_exactly_its_share():
    bounds = efficacy_bounds([0.25, 0.5, 0.75, 1.0], alpha=0.025, spending=power_spending(1.0))
    assert bounds[0] == pytest.approx(stats.norm.isf(0.025 * 0.25), abs=1e-7)


def test_two_look_pocock_like_bounds_match_the_published_values():
    """Lan-DeMets alpha*t spending, K = 2 equal looks, one-sided 0.025: 2.2414, 2.1251 (gsDesign sfPower, rho = 1)."""
    bounds = efficacy_bounds([0.5, 1.0], alpha=0.025, spending=power_spending(1.0))
    assert bounds == pytest.approx((2.2414, 2.1251), abs=2e-4)


@pytest.mark.parametrize("spending", [power_spending(1.0), obrien_fleming_spending, power_spending(3.0)])
@pytest.mark.parametrize("first", [0.3, 0.5])
def test_two_look_level_by_bivariate_normal(spending, first):
    """Independent check: P(Z1 >= c1 or Z2 >= c2), corr sqrt(t1), from scipy's bivariate normal CDF."""
    c1, c2 = efficacy_bounds([first, 1.0], alpha=0.01, spending=spending)
    rho = math.sqrt(first)
    both_below = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]]).cdf([c1, c2])
    assert 1 - both_below == pytest.approx(0.01, rel=3e-3)
    assert stats.norm.sf(c1) == pytest.approx(float(spending(first, 0.01)), rel=1e-5)


def test_operating_characteristics_sum_to_one_and_match_the_level_without_futility():
    design = make_design(100, alpha=0.0025, futility_z=-math.inf)
    null = design.operating_characteristics(0.0)
    assert null.p_fail == pytest.approx(0.0025, rel=1e-3)
    assert null.p_fail + null.pass_by_look.sum() == pytest.approx(1.0, abs=1e-6)
    assert design.operating_characteristics(5.0).p_fail > design.operating_characteristics(3.0).p_fail


def test_futility_lowers_the_false_alarms_and_the_looks():
    with_futility = make_design(100, alpha=0.0025).operating_characteristics(0.0)
    without = make_design(100, alpha=0.0025, futility_z=-math.inf).operating_characteristics(0.0)
    assert with_futility.p_fail < without.p_fail
    assert with_futility.expected_looks < without.expected_looks


def test_decide():
    design = make_design(50, 200, alpha=0.0025)
    assert design.looks == (50, 100, 150, 200)
    assert design.decide(0, 10.0) == "fail"
    assert design.decide(0, 0.9) == "pass"  # futility: z <= 1 passes early
    assert design.decide(0, 1.5) == "continue"
    assert design.decide(3, 1.0) == "pass"
    with pytest.raises(ValueError, match="look"):
        design.decide(4, 0.0)


def test_partial_last_block_is_a_look():
    assert make_design(200, 500, alpha=0.0025).looks == (200, 400, 500)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="fractions"):
        efficacy_bounds([0.5, 0.9], alpha=0.01)
    with pytest.raises(ValueError, match="n_max"):
        make_design(100, 50, alpha=0.01)


def test_simulated_null_level_of_the_whole_procedure():
    """Skewed per-image scores, paired by seed, a true worsening exactly at the margin: the sequential
    paired-z procedure fails at most alpha (here 0.05 so 4000 checks resolve it), binomial 99.9 % bound."""
    rng = np.random.default_rng(7)
    alpha, n, margin = 0.05, 100, 0.1
    design = make_design(n, alpha=alpha, futility_z=-math.inf)
    failures = 0
    checks = 4000
    for _ in range(checks):
        baseline = rng.exponential(1.0, 4 * n)
        current = 0.5 * baseline + 0.5 * rng.exponential(1.0, 4 * n) + margin  # mean worsening = margin
        for look, size in enumerate(design.looks):
            z, _, _ = margin_z(baseline[:size], current[:size], margin=margin, paired=True)
            decision = design.decide(look, z)
            if decision != "continue":
                failures += decision == "fail"
                break
    assert failures <= stats.binom.ppf(0.999, checks, alpha)
    assert failures >= stats.binom.ppf(0.001, checks, alpha * 0.5)  # and not absurdly conservative
