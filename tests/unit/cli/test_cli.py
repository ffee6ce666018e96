"""The genquality command: history, diff (exit codes), build-ref with real random Inception weights."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pytest_genquality import settings
from pytest_genquality.cli import main
from pytest_genquality.store import Store

LANE = "cpu/fp32"


@pytest.fixture(autouse=True)
def restore_settings(monkeypatch):
    for name in ("GENQUALITY_STORE", "GENQUALITY_OFFLINE", "GENQUALITY_WEIGHTS_DIR", "GENQUALITY_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    previous = settings.configure(None)
    yield
    settings.configure(previous)


def result(test, value, *, metric="fid", higher_is_better=False):
    return {
        "test": test,
        "metric": metric,
        "key": metric,
        "value": value,
        "n": 64,
        "lane": LANE,
        "verdict": "pass",
        "higher_is_better": higher_is_better,
    }


def make_store(root, values_by_run):
    store = Store(root)
    for index, values in enumerate(values_by_run):
        store.write_run(
            [result(test, value) for test, value in values.items()],
            {"commit": f"c{index}abcdef"[:7], "dirty": False, "time": f"2025-02-0{index + 1}"},
        )
    return store


def test_history_prints_every_run(tmp_path, capsys):
    make_store(tmp_path / "s", [{"t::a": 20.0}, {"t::a": 22.5, "t::b": 1.0}])
    assert main(["history", "--gen-store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert f"t::a  fid  [{LANE}]" in out and f"t::b  fid  [{LANE}]" in out
    assert "+2.5" in out and "c0abcde" in out and "c1abcde" in out


def test_history_filters_and_plots(tmp_path, capsys):
    make_store(tmp_path / "s", [{"t::a": 20.0, "t::b": 3.0}, {"t::a": 22.5, "t::b": 4.0}])
    out_png = tmp_path / "plot.png"
    assert main(["history", "--test", "*::a", "--plot", str(out_png), "--gen-store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "t::a" in out and "t::b" not in out and f"wrote {out_png}" in out
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_history_on_an_empty_store(tmp_path, capsys):
    assert main(["history", "--gen-store", str(tmp_path / "empty")]) == 0
    assert "no recorded results match" in capsys.readouterr().out


def test_history_store_from_the_environment(tmp_path, monkeypatch, capsys):
    make_store(tmp_path / "envstore", [{"t::env": 1.0}])
    monkeypatch.setenv("GENQUALITY_STORE", str(tmp_path / "envstore"))
    assert main(["history"]) == 0
    assert "t::env" in capsys.readouterr().out


def test_diff_exits_1_on_a_worsening(tmp_path, capsys):
    make_store(tmp_path / "s", [{"t::a": 20.0, "t::b": 5.0}, {"t::a": 25.0, "t::b": 5.0}])
    assert main(["diff", "-2", "-1", "--max-drift", "5%", "--gen-store", str(tmp_path / "s")]) == 1
    captured = capsys.readouterr()
    worse_row = next(line for line in captured.out.splitlines() if line.startswith("t::a"))
    assert "+5" in worse_row and "WORSE" in worse_row
    assert "WORSE" not in next(line for line in captured.out.splitlines() if line.startswith("t::b"))
    assert "1 metric(s) worse beyond max_drift=5%" in captured.err


@pytest.mark.parametrize(
    "second, drift, code",
    [
        (20.9, ["--max-drift", "5%"], 0),  # within 5%
        (10.0, ["--max-drift", "5%"], 0),  # an improvement never fails
        (25.0, ["--max-drift", "10"], 0),  # absolute tolerance
        (25.0, ["--max-drift", "30%"], 0),  # percent tolerance
        (25.0, ["--max-drift", "4.9"], 1),
    ],
)
def test_diff_exit_codes(tmp_path, capsys, second, drift, code):
    make_store(tmp_path / "s", [{"t::a": 20.0}, {"t::a": second}])
    assert main(["diff", "-2", "-1", *drift, "--gen-store", str(tmp_path / "s")]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("_c1abcde") and "_c0abcde -> " in out.splitlines()[0]


def test_diff_by_commit(tmp_path, capsys):
    make_store(tmp_path / "s", [{"t::a": 20.0}, {"t::a": 50.0}, {"t::a": 20.5}])
    assert main(["diff", "c0ab", "c2ab", "--max-drift", "5%", "--gen-store", str(tmp_path / "s")]) == 0
    assert main(["diff", "c0ab", "c1ab", "--max-drift", "5%", "--gen-store", str(tmp_path / "s")]) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["diff", "-2", "-1", "--max-drift", "lots"], "max_drift"),
        (["diff", "-9", "-1"], "run index -9 out of range"),
        (["diff", "nope", "-1"], "no run matches 'nope'"),
    ],
)
def test_diff_usage_errors_exit_2_with_a_message(tmp_path, capsys, argv, message):
    make_store(tmp_path / "s", [{"t::a": 20.0}, {"t::a": 50.0}])
    assert exit_code([*argv, "--gen-store", str(tmp_path / "s")]) == 2  # never 1: that means "worse"
    assert message in capsys.readouterr().err


def test_diff_auto_uses_the_seed_noise_stored_with_the_baseline(tmp_path, capsys):
    """Default --max-drift auto: the gate's margin test with the baseline's seed-noise SD, not a percentage."""
    store = make_store(
        tmp_path / "s", [{"t::a": 20.0, "t::b": 20.0, "t::c": 20.0}, {"t::a": 20.5, "t::b": 23.0, "t::c": 30.0}]
    )
    entry = {"value": 20.0, "n": 64, "lane": LANE, "noise_sd": 0.5}
    store.update_baselines("t", {"t::a": {"fid": {LANE: entry}}, "t::b": {"fid": {LANE: entry}}})
    assert main(["diff", "-2", "-1", "--gen-store", str(tmp_path / "s")]) == 1
    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in captured.out.splitlines() if line.startswith("t::")}
    assert captured.out.splitlines()[1].split()[-5:] == ["margin", "noise", "SD", "p", "verdict"]
    assert "WORSE" not in rows["t::a"] and rows["t::a"].split()[-1] == "ok"  # +0.5: inside 0.375 + noise
    assert (
        "WORSE" in rows["t::b"] and "0.375" in rows["t::b"] and "0.5" in rows["t::b"]
    )  # +3 = 5.25 SDs past the margin
    assert "untested" in rows["t::c"] and "WORSE" not in rows["t::c"]  # +10% but no noise estimate
    assert "1 metric(s) worse beyond the margin" in captured.err


def test_diff_on_an_empty_store(tmp_path, capsys):
    assert exit_code(["diff", "-2", "-1", "--gen-store", str(tmp_path / "none")]) == 2
    assert "no run files in the store yet" in capsys.readouterr().err


def exit_code(argv) -> int:
    """main's return value, or the status of the SystemExit it raised (argparse usage errors)."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_build_ref_with_random_inception_weights(tmp_path, capsys):
    from pytest_genquality.features import build_random_inception_weights

    weights = build_random_inception_weights(tmp_path / "weights", seed=0)
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(images / f"{i}.png")
    store_dir = tmp_path / "store"
    code = main(
        [
            "build-ref",
            str(images),
            "--name",
            "x",
            "--weights",
            str(weights),
            "--gen-store",
            str(store_dir),
            "--gen-device",
            "cpu",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0
    npz, meta_path = store_dir / "refs" / "x.npz", store_dir / "refs" / "x.json"
    assert npz.is_file() and meta_path.is_file()
    meta = json.loads(meta_path.read_text())
    assert meta["n"] == 6 and meta["dim"] == 2048 and "random-seed-0" in meta["extractor_id"]
    assert meta["source"] == str(images)
    stats = Store(store_dir).load_reference("x")
    assert stats.n == 6 and stats.features.shape == (6, 2048) and np.isfinite(stats.sigma).all()
    assert "wrote" in capsys.readouterr().out
    assert settings.active() == settings.from_environment()  # the command did not leave its settings behind


def test_build_ref_on_a_missing_folder(tmp_path, capsys):
    assert main(["build-ref", str(tmp_path / "absent"), "--name", "x", "--gen-store", str(tmp_path)]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_console_script_help():
    script = shutil.which("genquality", path=str(Path(sys.executable).parent)) or shutil.which("genquality")
    command = [script, "--help"] if script else [sys.executable, "-m", "pytest_genquality.cli", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for word in ("build-ref", "history", "diff"):
        assert word in done.stdout


def test_module_help():
    done = subprocess.run(
        [sys.executable, "-m", "pytest_genquality.cli", "diff", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--max-drift" in done.stdout and "--gen-store" in done.stdout


EXTRACTOR_MODULE = '''
import torch

class MeanColour:
    """A toy domain extractor: the mean colour of each image."""

    def __init__(self, device="cpu"):
        self.id = f"mean-colour/{torch.device(device).type}"

    def __call__(self, images):
        """images: an ImageBatch, or uint8 [N,3,H,W] (what build-ref passes, a chunk of the folder)."""
        return {"pool": getattr(images, "images", images).float().mean(dim=(2, 3)) / 255}
'''


def test_build_ref_with_a_domain_extractor(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_features.py").write_text(EXTRACTOR_MODULE)
    images = tmp_path / "images"
    images.mkdir()
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]):
        Image.new("RGB", (8, 8), colour).save(images / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "build-ref",
            "images",
            "--name",
            "colours",
            "--extractor",
            "my_features:MeanColour",
            "--gen-store",
            "store",
            "--gen-device",
            "cpu",
        ]
    )
    assert code == 0
    stats = Store(tmp_path / "store").load_reference("colours")
    assert stats.extractor_id == "mean-colour/cpu" and stats.n == 4
    np.testing.assert_allclose(stats.mu, [0.5, 0.5, 0.5])
    assert "mean-colour/cpu" in capsys.readouterr().out


def test_build_ref_with_an_extractor_that_is_not_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "not_features.py").write_text("def broken(device):\n    return object()\n")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "0.png")
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "build-ref",
                "images",
                "--name",
                "x",
                "--extractor",
                "not_features:broken",
                "--gen-store",
                "store",
                "--gen-device",
                "cpu",
            ]
        )
        == 2
    )
    assert "needs a string .id" in capsys.readouterr().err
    assert main(["build-ref", "images", "--name", "x", "--extractor", "not_features", "--gen-store", "store"]) == 2
    assert "MODULE:NAME" in capsys.readouterr().err


WARNING_EXTRACTOR_MODULE = (
    EXTRACTOR_MODULE
    + '''

class StandIn(MeanColour):
    """Warns as demo weights do."""

    def __init__(self, device="cpu"):
        import warnings
        from pytest_genquality.features.weights import RandomWeightsWarning

        super().__init__(device)
        warnings.warn("seeded random stand-in weights: numbers match no published value", RandomWeightsWarning)
'''
)


def test_build_ref_warns_in_one_line_about_a_reference_too_small_for_fid(tmp_path):
    (tmp_path / "standin_features.py").write_text(WARNING_EXTRACTOR_MODULE)
    images = tmp_path / "images"
    images.mkdir()
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        Image.new("RGB", (8, 8), colour).save(images / f"{i}.png")
    # a real process: inside pytest, warnings are recorded by pytest and never printed
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_genquality.cli",
            "build-ref",
            "images",
            "--name",
            "tiny",
            "--extractor",
            "standin_features:StandIn",
            "--gen-store",
            "store",
            "--gen-device",
            "cpu",
            "--workers",
            "0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    err_lines = done.stderr.splitlines()
    assert (
        "genquality build-ref: warning: seeded random stand-in weights: numbers match no published value" in err_lines
    )
    assert any(
        line.startswith(
            "genquality build-ref: warning: reference 'tiny': n=3 images for 3 feature "
            "dimensions, so its covariance is singular"
        )
        and "more than 3 images" in line
        for line in err_lines
    ), err_lines
    assert len(err_lines) == 2, err_lines  # each warning one line: no file name, no source line
    assert Store(tmp_path / "store").load_reference("tiny").n == 3  # written: still usable for drift checks


def test_history_skips_a_truncated_run_file_with_a_warning(tmp_path, capsys):
    store = make_store(tmp_path / "s", [{"t::a": 20.0}, {"t::a": 22.5}])
    (store.runs_dir / "20250109T000000000000Z_ddddddd.json").write_text("{ truncated")
    assert main(["history", "--gen-store", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert "+2.5" in captured.out
    assert "genquality history: warning: skipped run file" in captured.err and "ddddddd" in captured.err


@pytest.mark.parametrize("command", [["history"], ["diff", "-2", "-1"], ["report"]])
@pytest.mark.parametrize("option", ["--gen-device=cpu", "--gen-offline", "--gen-weights-dir=w"])
def test_commands_on_stored_runs_do_not_offer_options_that_do_nothing_there(command, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, option])
    assert exit_info.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
