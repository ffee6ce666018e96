"""A team's first runs (issue 22): honest `--update-refs` tables, no invitation to lock in a
broken batch, and a first run without thresholds (pytester)."""

import json


from toy import project_conftest

from pytest_genquality.cli import main

CONFTEST = project_conftest(
    extra="""
@pytest.fixture
def shift():
    return float(os.environ.get("TOY_SHIFT", "0.2"))
"""
)


def run_results(pytester) -> list[dict]:
    runs = sorted((pytester.path / ".genquality" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text())["results"]


def test_failed_test_under_update_refs_says_its_baseline_was_not_written(pytester, capsys):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_quality="""
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_recall_above

def test_ok(ref, extractor):
    assert_fid_below(toy_images(range(64)), ref, 100.0, extractor=extractor)

def test_broken(ref, extractor):
    batch = toy_images(range(64))
    assert_fid_below(batch, ref, 100.0, extractor=extractor)   # passes its threshold ...
    assert_recall_above(batch, ref, 1.01, extractor=extractor)  # ... but the test fails here
"""
    )
    result = pytester.runpytest("--update-refs")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_quality.py::test_broken*fid@real*not written (test failed)*",
            "*test_quality.py::test_ok*fid@real*updated*",
        ]
    )
    verdicts = {(r["test"].split("::")[1], r["metric"]): r["verdict"] for r in run_results(pytester)}
    assert verdicts == {
        ("test_ok", "fid"): "updated",
        ("test_broken", "fid"): "not-written",
        ("test_broken", "recall"): "fail",
    }
    stored = json.loads((pytester.path / ".genquality" / "baselines" / "test_quality.py.json").read_text())
    assert set(stored["tests"]) == {"test_quality.py::test_ok"}
    capsys.readouterr()
    assert (
        main(["history", "--test", "*broken", "--metric", "fid", "--gen-store", str(pytester.path / ".genquality")])
        == 0
    )
    assert capsys.readouterr().out.rstrip().endswith("not written (test failed)")


SHARED_BATCH = (
    CONFTEST
    + """
@pytest.fixture(scope="session")
def shared(shift):
    return toy_images(range(64), shift=shift)

@pytest.fixture(scope="session")
def shift():
    return float(os.environ.get("TOY_SHIFT", "0.2"))

@pytest.fixture
def recall_floor():
    return float(os.environ.get("TOY_RECALL_FLOOR", "0"))
"""
)


def test_no_invitation_to_lock_in_an_improvement_while_its_batch_failed(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    monkeypatch.delenv("TOY_RECALL_FLOOR", raising=False)
    pytester.makeconftest(SHARED_BATCH)
    pytester.makepyfile(
        test_quality="""
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_recall_above

def test_fid(shared, ref, extractor):
    assert_fid_below(shared, ref, 100.0, extractor=extractor)

def test_recall(shared, ref, extractor, recall_floor):
    assert_recall_above(shared, ref, recall_floor, extractor=extractor, max_drift=None)

def test_both(shift, ref, extractor, recall_floor):
    batch = toy_images(range(200, 264), shift=shift)
    assert_fid_below(batch, ref, 100.0, extractor=extractor)
    assert_recall_above(batch, ref, recall_floor, extractor=extractor, max_drift=None)

def test_other(shift, ref, extractor):
    assert_fid_below(toy_images(range(300, 364), shift=shift), ref, 100.0, extractor=extractor)
"""
    )
    pytester.runpytest("--update-refs").assert_outcomes(passed=4)
    monkeypatch.setenv("TOY_SHIFT", "0.0")  # FID improves everywhere ...
    monkeypatch.setenv("TOY_RECALL_FLOOR", "1.01")  # ... while recall of two batches fails
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*improved: test_quality.py::test_fid fid@real * -> *; not an improvement to lock in: recall@real fail in "
            "test_quality.py::test_recall on the same images*",
            "*improved: test_quality.py::test_both fid@real * -> *; not an improvement to lock in: recall@real fail in the "
            "same test*fix the failure first*",
            "*improved: test_quality.py::test_other fid@real * -> *: lock it in with `pytest --update-refs`*",
        ]
    )
    assert "test_fid fid@real" not in "".join(line for line in result.stdout.lines if "lock it in" in line)


FIRST_RUN_TESTS = """
from toy import toy_images
from pytest_genquality import (assert_fid_below, assert_kid_below, assert_precision_above, assert_quality,
                               assert_recall_above, assert_coverage_above, assert_inception_score_above)

def test_single(ref, extractor, shift):
    batch = toy_images(range(64), shift=shift)
    assert_fid_below(batch, ref, None, extractor=extractor)
    assert_kid_below(batch, ref, None, extractor=extractor, subset_size=32)
    assert_precision_above(batch, ref, None, extractor=extractor)
    assert_coverage_above(batch, ref, None, extractor=extractor)
    assert_inception_score_above(batch, None, extractor=extractor, splits=4)

def test_together(ref, extractor, shift):
    results = assert_quality(toy_images(range(100, 164), shift=shift), ref, fid_below=None, recall_above=None,
                             extractor=extractor)
    assert list(results) == ["fid", "recall"]
"""


def test_first_run_without_thresholds_records_values_and_gates_on_drift_only(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=FIRST_RUN_TESTS)
    first = pytester.runpytest("--update-refs")  # the first run: nothing known, nothing to fail on
    first.assert_outcomes(passed=2)
    rows = [line for line in first.stdout.lines if "fid@real" in line]
    assert len(rows) == 2 and all(line.split()[4] == "—" for line in rows), rows  # the threshold column
    stored = json.loads((pytester.path / ".genquality" / "baselines" / "test_quality.py.json").read_text())
    assert set(stored["tests"]["test_quality.py::test_together"]) == {"fid@real", "recall@real"}
    pytester.runpytest().assert_outcomes(passed=2)
    monkeypatch.setenv("TOY_SHIFT", "0.45")  # a regression: the drift gate alone catches it
    worse = pytester.runpytest()
    worse.assert_outcomes(failed=2)
    worse.stdout.fnmatch_lines(["*FID drifted from its baseline: worse by*"])
