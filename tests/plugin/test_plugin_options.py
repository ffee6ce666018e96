"""Options, ini keys, device errors, fixtures, assert_metric and provenance, through pytester."""

import json
import shutil
import subprocess

import pytest
import torch


def test_options_and_ini_keys_resolve(pytester, monkeypatch):
    monkeypatch.delenv("GENQUALITY_STORE", raising=False)
    pytester.makeini("""
        [pytest]
        gen_store = quality-store
        gen_offline = true
    """)
    pytester.makepyfile("""
        from pytest_genquality import settings

        def test_settings(gen_device, gen_store):
            active = settings.active()
            assert str(gen_device) == "cpu"
            assert gen_store.root.name == "quality-store"
            assert active.offline is True
            assert active.weights_dir is not None and active.weights_dir.name == "w"
            assert active.update_refs is True
    """)
    result = pytester.runpytest("--gen-device=cpu", "--gen-weights-dir=w", "--update-refs")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["genquality: lane cpu/cpu/fp32/torch-*, store *quality-store (updating baselines)"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_missing_cuda_is_a_usage_error_not_a_cpu_fallback(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--gen-device=cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gen-device=cuda was requested but CUDA is not available*use --gen-device=cpu*"])


def test_malformed_device_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--gen-device=tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gen-device: expected auto|cpu|cuda|cuda:N|mps, got 'tpu'*"])


def test_plugin_can_be_disabled(pytester):
    pytester.makepyfile("def test_x(request):\n    assert 'gen_device' not in request.fixturenames\n")
    result = pytester.runpytest("-p", "no:genquality")
    result.assert_outcomes(passed=1)
    assert "genquality:" not in result.stdout.str()


def test_gen_refs_names_the_build_ref_command(pytester):
    pytester.makepyfile("""
        def test_missing(gen_refs):
            assert list(gen_refs) == []
            gen_refs["coco-val-2k"]
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no reference statistics named 'coco-val-2k'*genquality build-ref IMAGE_DIR --name coco-val-2k*"]
    )


USER_METRIC = """
import os
import numpy as np
from pytest_genquality import assert_metric

def test_latency_score():
    shift = float(os.environ.get("METRIC_SHIFT", "0"))
    samples = np.random.default_rng(0).normal(10.0 - shift, 1.0, 64)
    assert_metric("aesthetic", float(samples.mean()), higher_is_better=True, threshold=5.0, samples=samples)

def test_plain_value():
    assert_metric("params_m", 12.5 + float(os.environ.get("METRIC_SHIFT", "0")), higher_is_better=False,
                  max_drift="5%")
"""


def test_assert_metric_serves_user_metrics(pytester, monkeypatch):
    monkeypatch.delenv("METRIC_SHIFT", raising=False)
    pytester.makepyfile(test_user=USER_METRIC)
    pytester.runpytest().assert_outcomes(failed=2)
    pytester.runpytest("--update-refs").assert_outcomes(passed=2)
    pytester.runpytest().assert_outcomes(passed=2)
    monkeypatch.setenv("METRIC_SHIFT", "2")
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*aesthetic drifted from its baseline: worse by *, beyond the margin * = 0.75 x seed-noise SD *: "
            "bootstrap p=* < 0.0025*",
            "*params_m drifted from its baseline: worse by 2, beyond max_drift='5%'*",
        ]
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_baselines_carry_the_commit_and_versions(pytester):
    pytester.makepyfile(test_user=USER_METRIC)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=pytester.path, check=True)
    subprocess.run([*git, "add", "test_user.py"], cwd=pytester.path, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=pytester.path, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], cwd=pytester.path, capture_output=True, text=True, check=True
    ).stdout.strip()
    pytester.runpytest("--update-refs").assert_outcomes(passed=2)
    stored = json.loads((pytester.path / ".genquality" / "baselines" / "test_user.py.json").read_text())
    entry = next(iter(stored["tests"]["test_user.py::test_plain_value"]["params_m"].values()))
    assert entry["commit"] == commit and entry["dirty"] is False
    assert entry["lane"].startswith("cpu/") and "torch" in entry["versions"] and entry["updated"].endswith("+00:00")
    runs = list((pytester.path / ".genquality" / "runs").glob(f"*_{commit}.json"))
    assert len(runs) == 1


def test_update_baselines_is_the_clearer_spelling_of_update_refs(pytester):
    pytester.makepyfile("""
        from pytest_genquality import settings

        def test_settings():
            assert settings.active().update_refs is True
    """)
    pytester.runpytest("--gen-device=cpu", "--update-baselines").assert_outcomes(passed=1)
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--update-baselines, --update-refs" in help_text


# ---- every option is checked before the session runs (issue 22 items 2 and 9) -------------------
@pytest.mark.parametrize(
    "option, message",
    [
        ("--gen-report=out.pdf", "*--gen-report: expected a path ending in .html, .json or .md, got 'out.pdf'*"),
        (
            "--gen-drift-margin=fdi=0.5",
            "*--gen-drift-margin: unknown metric 'fdi' in 'fdi' (did you mean 'fid'?); known metrics: fid, kid, *",
        ),
        ("--gen-drift-margin=FID=0.5", "*unknown metric 'FID'*(did you mean 'fid'?)*"),
        ("--gen-drift-margin=recal@coco=0.01", "*unknown metric 'recal' in 'recal@coco' (did you mean 'recall'?)*"),
        ("--gen-store=a-file", "*--gen-store: *a-file is a file; expected a folder*"),
    ],
)
def test_a_bad_option_is_a_usage_error_before_any_test_runs(pytester, option, message):
    pytester.makefile(".txt", **{"a-file": "not a folder"})
    pytester.path.joinpath("a-file.txt").rename(pytester.path / "a-file")
    pytester.makepyfile("def test_x():\n    raise AssertionError('the session ran')\n")
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "the session ran" not in result.stdout.str()


def test_a_margin_for_a_metric_of_ones_own_is_accepted_and_an_unused_one_is_named(pytester):
    pytester.makepyfile("""
        from pytest_genquality import assert_metric

        def test_latency():
            assert_metric("latency_ms", 12.0, higher_is_better=False, threshold=20.0)
    """)
    result = pytester.runpytest("--gen-device=cpu", "--gen-drift-margin=latency_ms=2, sharpnes=0.1", "--update-refs")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*warning: --gen-drift-margin 'sharpnes' matched no metric of this session*"])
    assert "'latency_ms' matched no metric" not in result.stdout.str()


@pytest.mark.parametrize("key", ["update_refs", "prune_refs"])
def test_rewriting_baselines_from_the_ini_file_is_refused(pytester, key):
    pytester.makeini(f"[pytest]\n{key} = true\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--gen-device=cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*{key} = true in *tox.ini*: a committed file that rewrites the baselines makes "
            "every run (CI included) accept what it measures*"
        ]
    )
