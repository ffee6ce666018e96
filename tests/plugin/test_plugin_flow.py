"""The regression-testing workflow end to end, as a user's project runs it (pytester)."""

import json

import pytest

from toy import project_conftest

CONFTEST = project_conftest(
    extra="""
@pytest.fixture
def shift():
    return float(os.environ.get("TOY_SHIFT", "0.2"))
"""
)

TESTS = """
from toy import toy_images
from pytest_genquality import assert_fid_below

def test_a(ref, extractor, shift):
    assert_fid_below(toy_images(range(64), shift=shift), ref, 100.0, extractor=extractor)

def test_b(ref, extractor):
    assert_fid_below(toy_images(range(100, 164)), ref, 100.0, extractor=extractor)
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_quality=TESTS)
    return pytester


def baseline_json(pytester) -> dict:
    return json.loads((pytester.path / ".genquality" / "baselines" / "test_quality.py.json").read_text())


def test_first_run_fails_for_the_missing_baseline(project):
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*no baseline for fid@real in test_quality.py::test_a on lane *run `pytest --update-refs`*"]
    )
    assert not (project.path / ".genquality" / "baselines").exists()


def test_update_then_rerun_then_worsen_then_improve(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    stored = baseline_json(project)
    assert stored["schema"] == 1
    entry = next(iter(stored["tests"]["test_quality.py::test_a"]["fid@real"].values()))
    assert entry["n"] == 64 and entry["extractor_id"] == "toy:proj32-seed0" and entry["value"] > 0
    assert list((project.path / ".genquality" / "baselines" / "features").glob("*.npz"))

    project.runpytest().assert_outcomes(passed=2)

    monkeypatch.setenv("TOY_SHIFT", "0.4")
    worse = project.runpytest()
    worse.assert_outcomes(failed=1, passed=1)
    worse.stdout.fnmatch_lines(
        [
            "*FID drifted from its baseline: worse by *, beyond the margin * (default: 5% of the "
            "baseline FID; set gen_drift_margin): paired swap-z z=* >= bound 2.81 (n=64), nominal "
            "p=* < 0.0025 for 'worse by at most the margin'*",
            "*baseline * (drift +*, margin *, p=*",
        ]
    )
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    project.runpytest().assert_outcomes(passed=2)  # the accepted regression is the new baseline

    monkeypatch.setenv("TOY_SHIFT", "0.0")
    better = project.runpytest()
    better.assert_outcomes(passed=2)
    better.stdout.fnmatch_lines(
        ["*improved: test_quality.py::test_a fid@real * -> *: lock it in with `pytest --update-refs`*"]
    )
    runs = sorted((project.path / ".genquality" / "runs").glob("*.json"))
    assert len(runs) == 6  # one per session that measured anything


def test_deselected_tests_keep_their_baselines(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    before = baseline_json(project)["tests"]["test_quality.py::test_b"]
    monkeypatch.setenv("TOY_SHIFT", "0.3")
    project.runpytest("--update-refs", "-k", "test_a").assert_outcomes(passed=1, deselected=1)
    after = baseline_json(project)["tests"]
    assert after["test_quality.py::test_b"] == before
    assert set(after) == {"test_quality.py::test_a", "test_quality.py::test_b"}


def test_xdist_workers_lose_no_update(pytester, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.delenv("TOY_SHIFT", raising=False)
    pytester.makeconftest(CONFTEST)
    body = "\n".join(
        f"def test_{i}(ref, extractor):\n    assert_fid_below(toy_images(range({i * 100}, {i * 100 + 16})), ref, 100.0, extractor=extractor)\n"
        for i in range(6)
    )
    pytester.makepyfile(
        test_quality="from toy import toy_images\nfrom pytest_genquality import assert_fid_below\n" + body
    )
    pytester.runpytest_subprocess("--update-refs", "-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=6)
    assert len(baseline_json(pytester)["tests"]) == 6
    assert len(list((pytester.path / ".genquality" / "runs").glob("*.json"))) == 1
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=6)


def test_corrupt_baseline_is_a_clear_error_and_left_untouched(project):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    path = project.path / ".genquality" / "baselines" / "test_quality.py.json"
    damaged = path.read_text()[:-40]
    path.write_text(damaged)
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*baseline file *test_quality.py.json is corrupt or truncated*"])
    assert path.read_text() == damaged
    update = project.runpytest("--update-refs")
    update.assert_outcomes(passed=2)
    assert update.ret == pytest.ExitCode.TESTS_FAILED
    update.stdout.fnmatch_lines(["*ERROR (store not updated): baseline file *test_quality.py.json is corrupt*"])
    assert path.read_text() == damaged, "an update must not overwrite a damaged file either"


def test_baseline_of_another_lane_is_not_compared(project):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    path = project.path / ".genquality" / "baselines" / "test_quality.py.json"
    payload = json.loads(path.read_text())
    for metrics in payload["tests"].values():
        for key, lanes in metrics.items():
            metrics[key] = {"cuda/NVIDIA H100/fp16/torch-2.14.1": entry for entry in lanes.values()}
    path.write_text(json.dumps(payload))
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*baselines exist for other lanes: cuda/NVIDIA H100/fp16/torch-2.14.1; they are not compared*"]
    )


def test_changed_n_is_an_error_not_a_drift(project):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    project.makepyfile(test_quality=TESTS.replace("range(64)", "range(48)"))
    result = project.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*measured at n=64, this run at n=48*not a drift*"])


def test_stale_baselines_listed_and_pruned_only_on_request(project):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    project.makepyfile(test_quality=TESTS.split("def test_b")[0])
    listed = project.runpytest()
    listed.assert_outcomes(passed=1)
    listed.stdout.fnmatch_lines(["*stale baselines (test gone)*", "*test_quality.py::test_b"])
    assert "test_quality.py::test_b" in baseline_json(project)["tests"]
    project.runpytest("--update-refs", "--prune-refs").assert_outcomes(passed=1)
    assert set(baseline_json(project)["tests"]) == {"test_quality.py::test_a"}


def test_threshold_failure_message_and_summary(project):
    project.makepyfile(test_quality=TESTS.replace("100.0", "0.01"))
    result = project.runpytest("--update-refs", "--gen-report=out.json", "-rf")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*FID * is above the threshold 0.01  (test_quality.py::test_a)*",
            "*reference  real  (n=400, extractor toy:proj32-seed0)*",
            "*generated  n=64, seeds 0..63, lane cpu/cpu/fp32/torch-*",
        ]
    )
    report = json.loads((project.path / "out.json").read_text())
    assert {r["test"] for r in report["results"]} == {"test_quality.py::test_a", "test_quality.py::test_b"}
    assert not (project.path / ".genquality" / "baselines").exists(), "failing tests write no baseline"


def test_values_go_into_junit_xml(project):
    project.runpytest("--update-refs", "--junitxml=junit.xml").assert_outcomes(passed=2)
    xml = (project.path / "junit.xml").read_text()
    assert 'name="genquality:fid@real"' in xml


def test_quiet_summary_shows_only_failures(project):
    project.runpytest("--update-refs").assert_outcomes(passed=2)
    loud = project.runpytest()
    loud.stdout.fnmatch_lines(
        ["*genquality*", "*test*metric*value*verdict*", "*test_quality.py::test_a*fid@real*pass*"]
    )
    quiet = project.runpytest("-q")
    assert "fid@real" not in quiet.stdout.str()
