"""`genquality diff` fails when the newer run failed, and says why a pair is untested or a metric missing (issue 22.5)."""

import json

import pytest

from pytest_genquality import settings
from pytest_genquality.cli import main
from pytest_genquality.report.history import diff
from pytest_genquality.store import Store
from toy import project_conftest

LANE = "cpu/fp32"


@pytest.fixture(autouse=True)
def restore_settings(monkeypatch):
    for name in ("GENQUALITY_STORE", "GENQUALITY_OFFLINE", "GENQUALITY_WEIGHTS_DIR", "GENQUALITY_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    previous = settings.configure(None)
    yield
    settings.configure(previous)


def result(test, key, value, *, verdict="pass", threshold=None, higher_is_better=False, **extra):
    return {
        "test": test,
        "metric": key.split("@")[0],
        "key": key,
        "value": value,
        "n": 64,
        "lane": LANE,
        "verdict": verdict,
        "threshold": threshold,
        "higher_is_better": higher_is_better,
        **extra,
    }


def write(store, commit, results, tests=None):
    store.write_run(results, {"commit": commit, "dirty": False, "time": "2026-01-01"}, tests=tests)


def run_diff(store, capsys, *revisions):
    code = main(["diff", *revisions, "--gen-store", str(store.root)])
    captured = capsys.readouterr()
    rows = {tuple(line.split()[:2]): line for line in captured.out.splitlines() if line.startswith("t::")}
    return code, rows, captured.err


def test_a_commit_run_twice_is_ambiguous_and_a_run_is_never_compared_with_itself(tmp_path, capsys):
    store = Store(tmp_path / "s")
    write(store, "aaaa111", [result("t::a", "fid", 20.0)])
    write(store, "bbbb222", [result("t::a", "fid", 40.0)])
    write(store, "bbbb222", [result("t::a", "fid", 40.0)])  # the same commit re-run
    code, rows, err = run_diff(store, capsys, "bbbb222", "-1")
    assert code == 2 and "matches 2 runs" in err and err.count("_bbbb222") == 2
    code, rows, err = run_diff(store, capsys, "-1", "-1")
    assert code == 2 and "compared with itself" in err
    code, rows, err = run_diff(store, capsys, "aaaa", "-1")
    assert code == 0 and rows  # unique prefix: compared (no noise estimate: untested, not failed)


def test_a_threshold_crossed_in_the_new_run_fails_the_diff_with_the_reason_first(tmp_path, capsys):
    store = Store(tmp_path / "s")
    write(store, "aaaa111", [result("t::a", "fid", 30.0, threshold=28.0, verdict="fail")])
    write(
        store,
        "bbbb222",
        [
            result("t::a", "fid", 30.1, threshold=28.0, verdict="fail"),
            result("t::b", "recall", 0.6, threshold=0.5, higher_is_better=True),
        ],
    )
    code, rows, err = run_diff(store, capsys, "-2", "-1", "--max-drift", "5%")  # +0.1 is well within 5 %
    assert code == 1
    assert "FAIL: 30.1 is above the threshold 28" in rows[("t::a", "fid")]
    assert "FAIL" not in rows[("t::b", "recall")]
    assert "1 metric(s) failed in the new run" in err and "t::a fid: 30.1 is above the threshold 28" in err


def test_paired_and_other_untested_metrics_say_why_and_what_would_test_them():
    paired = result("t::p", "lpips@paired", 0.01, threshold=0.05, extractor_id="paired:lpips")
    scalar = result("t::s", "rare_digit", 0.1, noise="untested: this metric has no per-sample evidence")
    old = {"results": [paired, scalar]}
    new = {"results": [{**paired, "value": 0.02}, {**scalar, "value": 0.09}]}
    changes = {c.test: c for c in diff(old, new, max_drift="auto")}
    assert "--update-refs" not in changes["t::p"].note and "paired check" in changes["t::p"].note
    assert "threshold judges it" in changes["t::p"].note and "--max-drift" in changes["t::p"].note
    assert "no per-sample evidence" in changes["t::s"].note and "--update-refs" not in changes["t::s"].note


def test_a_metric_its_failing_test_never_reached_is_not_measured_not_removed():
    old = {
        "results": [
            result("t::a", "fid", 20.0),
            result("t::a", "recall", 0.6, higher_is_better=True),
            result("t::b", "kid", 0.01),
            result("t::c", "kid", 0.02),
            result("t::d", "kid", 0.03),
        ]
    }
    new = {
        "results": [result("t::a", "fid", 35.0, threshold=28.0, verdict="fail"), result("t::b", "fid", 1.0)],
        "tests": {"t::a": "failed", "t::b": "passed", "t::c": "failed"},
    }
    changes = {(c.test, c.key): c for c in diff(old, new, max_drift=None)}
    recall = changes[("t::a", "recall")]
    assert recall.verdict.startswith("FAIL: not measured: its test failed (it failed at fid)")
    assert changes[("t::c", "kid")].failed == "not measured: its test failed"  # failed before any check
    assert changes[("t::b", "kid")].verdict == "removed (its test passed without measuring it)"
    assert changes[("t::d", "kid")].verdict.startswith("not run") and not changes[("t::d", "kid")].failed


def test_old_run_files_without_outcomes_use_the_recorded_verdicts():
    old = {"results": [result("t::a", "fid", 20.0), result("t::a", "recall", 0.6, higher_is_better=True)]}
    new = {"results": [result("t::a", "fid", 21.0, verdict="no-baseline")]}
    recall = next(c for c in diff(old, new, max_drift=None) if c.key == "recall")
    assert recall.missing.startswith("not measured") and recall.failed


TESTS = """
import os
from toy import toy_images
from pytest_genquality import assert_fid_below, assert_recall_above

def test_q(ref, extractor):
    batch = toy_images(range(64), shift=float(os.environ.get("TOY_SHIFT", "0")))
    assert_fid_below(batch, ref, float(os.environ.get("FID_THRESHOLD", "100")), extractor=extractor, max_drift=None)
    assert_recall_above(batch, ref, 0.0, extractor=extractor, max_drift=None)
"""


def test_end_to_end_a_test_that_stopped_at_its_threshold_fails_the_diff(pytester, monkeypatch, capsys):
    pytester.makeconftest(project_conftest())
    pytester.makepyfile(test_quality=TESTS)
    pytester.runpytest("--update-refs").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("FID_THRESHOLD", "0.001")
    pytester.runpytest().assert_outcomes(failed=1)
    store = Store(pytester.path / ".genquality")
    newest = json.loads(store.run_files()[-1].read_text())
    assert newest["tests"] == {"test_quality.py::test_q": "failed"}
    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    assert main(["diff", "-2", "-1"]) == 1
    out = capsys.readouterr().out
    fid = next(line for line in out.splitlines() if " fid@real " in line)
    recall = next(line for line in out.splitlines() if " recall@real " in line)
    assert "FAIL:" in fid and "above the threshold 0.001" in fid
    assert "FAIL: not measured: its test failed (it failed at fid@real)" in recall and "removed" not in recall
