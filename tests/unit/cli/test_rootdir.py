"""The CLI's default store is pytest's: <rootdir>/.genquality, found from any subfolder."""

import pytest

from pytest_genquality import settings
from pytest_genquality.cli import main
from pytest_genquality.cli.rootdir import find_rootdir
from pytest_genquality.store import Store

LAYOUTS = {
    "pytest.ini": "[pytest]\n",
    "empty pytest.ini": "",
    "tox.ini": "[pytest]\naddopts = -q\n",
    "setup.cfg": "[tool:pytest]\naddopts = -q\n",
    "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n",
    "pytest.toml": "[pytest]\n",
}


def pytest_rootdir(folder):
    """What pytest itself decides, run in ``folder`` without arguments."""
    from _pytest.config.findpaths import determine_setup

    return determine_setup(inifile=None, override_ini=None, args=[], rootdir_cmd_arg=None, invocation_dir=folder)[0]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_ini_folder_wins_as_in_pytest(tmp_path, layout):
    name = layout.split()[-1]
    (tmp_path / "project" / "tests" / "deep").mkdir(parents=True)
    (tmp_path / "project" / name).write_text(LAYOUTS[layout])
    start = tmp_path / "project" / "tests" / "deep"
    assert find_rootdir(start) == tmp_path / "project" == pytest_rootdir(start)


@pytest.mark.parametrize(
    "name, text", [("tox.ini", "[tox]\n"), ("setup.cfg", "[metadata]\n"), ("pyproject.toml", "[tool.black]\n")]
)
def test_a_file_without_pytest_settings_is_passed_over(tmp_path, name, text):
    (tmp_path / "outer" / "inner" / "tests").mkdir(parents=True)
    (tmp_path / "outer" / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "outer" / "inner" / name).write_text(text)
    start = tmp_path / "outer" / "inner" / "tests"
    assert find_rootdir(start) == tmp_path / "outer" == pytest_rootdir(start)


def test_a_bare_pyproject_then_setup_py(tmp_path):
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "setup.py").write_text("")
    start = tmp_path / "a" / "b" / "c"
    assert find_rootdir(start) == tmp_path / "a" == pytest_rootdir(start)
    (tmp_path / "a" / "b" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_rootdir(start) == tmp_path / "a" / "b" == pytest_rootdir(start)


def test_without_any_config_the_git_root(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "tests").mkdir()
    assert find_rootdir(tmp_path / "repo" / "tests") == tmp_path / "repo"


def test_build_ref_and_history_from_a_subfolder_use_the_root_store(tmp_path, monkeypatch, capsys):
    for name in ("GENQUALITY_STORE", "GENQUALITY_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    previous = settings.configure(None)
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    Store(project / ".genquality").write_run(
        [{"test": "t::root", "metric": "fid", "key": "fid", "value": 1.0, "n": 4, "lane": "cpu", "verdict": "pass"}],
        {"commit": "abc1234"},
    )
    monkeypatch.chdir(project / "tests")
    try:
        assert main(["history"]) == 0
        assert "t::root" in capsys.readouterr().out
        # build-ref checks its name in the root store before any work
        Store(project / ".genquality").save_reference(
            "coco", __import__("pytest_genquality").ReferenceStats.from_features([[0.0, 1], [1, 0]], extractor_id="x")
        )
        (project / "tests" / "imgs").mkdir()
        (project / "tests" / "imgs" / "a.png").write_bytes(b"")
        assert main(["build-ref", "imgs", "--name", "coco"]) == 2
        assert str(project / ".genquality" / "refs" / "coco") in capsys.readouterr().err
        assert not (project / "tests" / ".genquality").exists()
        # a --gen-store typed on the command line is relative to the current folder
        assert main(["history", "--gen-store", "mine"]) == 0
        assert "no recorded results" in capsys.readouterr().out
    finally:
        settings.configure(previous)
