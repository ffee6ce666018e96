"""genquality: a user error is one line on stderr and exit status 2; a traceback only with --debug."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.hub
from PIL import Image

from pytest_genquality import settings
from pytest_genquality.cli import main
from pytest_genquality.reference import ReferenceStats
from pytest_genquality.store import Store


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for name in (
        "GENQUALITY_STORE",
        "GENQUALITY_OFFLINE",
        "GENQUALITY_WEIGHTS_DIR",
        "GENQUALITY_DEVICE",
        "GENQUALITY_DEBUG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    torch.hub.set_dir(str(tmp_path / "hub"))  # no official file can be found by accident
    previous = settings.configure(None)
    yield
    settings.configure(previous)


def images_dir(tmp_path, count=3):
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def build_ref(tmp_path, *extra):
    return ["build-ref", "--gen-store", str(tmp_path / "store"), "--gen-offline", "--gen-device", "cpu", *extra]


def test_an_empty_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run(
        build_ref(tmp_path, str(tmp_path / "empty"), "--name", "x", "--weights", str(tmp_path / "w.pth")), capsys
    )
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "images: no image files (.png, .jpg" in err and str(tmp_path / "empty") in err  # before the weights


class FakeInception:
    """Stands in for InceptionFID in the command (the error comes from reading files, not from the network)."""

    id = "fake"

    def __init__(self, weights=None, *, device="cpu", resize="pytorch-fid", dims=2048):
        pass

    def __call__(self, images):
        return {"pool": images.flatten(1)[:, :8].float()}


def test_a_broken_png_names_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("pytest_genquality.features.inception.InceptionFID", FakeInception)
    folder = images_dir(tmp_path, count=2)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, err = run(build_ref(tmp_path, str(folder), "--name", "x"), capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{folder / 'broken.png'}: cannot be read as an image" in err and "remove or replace the file" in err
    assert err.startswith("genquality build-ref: error: ") and err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_device_is_one_line(tmp_path, capsys):
    argv = build_ref(tmp_path, str(images_dir(tmp_path)), "--name", "x")
    argv[argv.index("--gen-device") + 1] = "cuda"
    code, err = run(argv, capsys)
    assert code == 2 and "CUDA is not available" in err and err.count("\n") == 1


def test_missing_weights_advise_the_cli_flag(tmp_path, capsys):
    code, err = run(build_ref(tmp_path, str(images_dir(tmp_path)), "--name", "x"), capsys)
    assert code == 2 and "Traceback" not in err
    assert "pt_inception-2015-12-05-6726825d.pth not found (offline mode forbids downloads)" in err
    assert "--weights PATH" in err and "weights=PATH" not in err
    assert "genquality weights demo DIR" in err
    assert settings.active().interface == "python"  # the command did not leave its settings behind


def test_debug_shows_the_traceback(tmp_path):
    argv = build_ref(tmp_path, str(images_dir(tmp_path)), "--name", "x", "--debug")
    from pytest_genquality.features.weights import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="weights=PATH|--weights PATH"):
        main(argv)


def test_the_console_has_no_traceback_for_user_errors(tmp_path):
    """The real process: stderr is one line, no chained urllib/torch frames."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_genquality.cli",
            "build-ref",
            str(images_dir(tmp_path)),
            "--name",
            "x",
            "--gen-store",
            str(tmp_path / "store"),
            "--gen-offline",
            "--gen-device",
            "cpu",
            "--weights",
            str(tmp_path / "absent.pth"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "absent.pth" in done.stderr and "--weights" in done.stderr


@pytest.mark.parametrize("name", [".", "..", "x.npz", "x.json", "../x", ".hidden"])
def test_bad_reference_names_are_refused_before_any_work(tmp_path, capsys, name):
    code, err = run(build_ref(tmp_path, str(images_dir(tmp_path)), "--name", name, "--weights", "absent.pth"), capsys)
    assert code == 2 and f"got {name!r}" in err and "absent.pth" not in err
    assert not (tmp_path / "store").exists() and not (tmp_path / "refs.npz").exists()


def test_an_existing_reference_needs_force(tmp_path, capsys):
    stats = ReferenceStats.from_features(np.random.default_rng(0).standard_normal((4, 3)), extractor_id="toy")
    Store(tmp_path / "store").save_reference("coco", stats)
    argv = build_ref(tmp_path, str(images_dir(tmp_path)), "--name", "coco", "--weights", str(tmp_path / "absent.pth"))
    code, err = run(argv, capsys)
    assert code == 2 and "'coco' already exists" in err and "--force" in err
    code, err = run([*argv, "--force"], capsys)  # past the name check, stopped by the (absent) weights
    assert code == 2 and "absent.pth" in err
    assert Store(tmp_path / "store").load_reference("coco").extractor_id == "toy"
