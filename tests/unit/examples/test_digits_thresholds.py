"""The digits example's thresholds rest on many seed blocks, not on one lucky one (issue 19 item 6)."""

import ast
from pathlib import Path

from pytest_genquality.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# benchmarks/bench_drift_real.py, table 4: the committed digits DDPM over 80 disjoint blocks of 200 seeds
QUANTILE_0_5 = {"RECALL_MIN": 0.903, "COVERAGE_MIN": 0.514, "RAREST_DIGIT_MIN": 0.027}
FID_QUANTILE_99_5 = 29.25


def suite_constants() -> dict:
    tree = ast.parse((EXAMPLES / "digits_suite" / "test_digits_quality.py").read_text())
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.endswith(("_MAX", "_MIN"))
    }


def test_the_unchanged_model_passes_the_suite_on_almost_every_seed_block():
    constants = suite_constants()
    assert constants["FID_MAX"] >= FID_QUANTILE_99_5
    for name, quantile in QUANTILE_0_5.items():
        assert constants[name] <= quantile, name


def test_genquality_thresholds_on_the_example_store_says_what_the_readme_says(capsys):
    assert main(["thresholds", "--test", "digits_suite", "--gen-store", str(EXAMPLES / ".genquality")]) == 0
    out = capsys.readouterr().out
    assert "assert_fid_below(batch, ref, 30.1)" in out
    assert "assert_recall_above(batch, ref, 0.912)" in out
    assert "assert_coverage_above(batch, ref, 0.498)" in out
    assert out.count("from 1 seed block (the baseline's)") == 3
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert "FID ≤ 30.1, recall ≥ 0.912,\ncoverage ≥ 0.498" in readme
