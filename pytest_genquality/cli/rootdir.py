"""The project root the `genquality` command uses for its default store, by pytest's rule.

pytest puts the store at ``<rootdir>/.genquality``; the CLI must find the same folder when it is
run from a subfolder (``cd tests && genquality build-ref ...``), or references land in
``tests/.genquality`` where no test reads them. pytest's rule (``_pytest.config.findpaths``,
no arguments given): walking up from the current folder, the first folder holding a pytest
configuration file (pytest.toml, pytest.ini, pyproject.toml with ``[tool.pytest]`` or
``[tool.pytest.ini_options]``, a ``.ini`` with ``[pytest]`` such as tox.ini, setup.cfg with
``[tool:pytest]``); else the first folder with a pyproject.toml; else one with setup.py. Where
pytest would then fall back to the current folder, we take the git work tree's root, because a
suite is run from there far more often than from a subfolder.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

CONFIG_NAMES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def is_pytest_config(path: Path) -> bool:
    """Whether pytest would take ``path`` as its configuration file (the rules of pytest 8-9)."""
    if not path.is_file():
        return False
    if path.name in ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"):
        return True  # always the configuration, even when empty
    try:
        if path.suffix == ".toml":
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
            return isinstance(tool, dict) and bool(tool.get("pytest"))  # [tool.pytest] or [tool.pytest.ini_options]
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
        return False  # pytest itself would stop on a broken file; the store location is not the place to say so
    section = "tool:pytest" if path.suffix == ".cfg" else "pytest"
    return parser.has_section(section)


def find_rootdir(start: Path | None = None) -> Path:
    """The folder pytest would use as rootdir when run in ``start`` (default: the current folder)."""
    start = (Path.cwd() if start is None else Path(start)).resolve()
    folders = (start, *start.parents)
    first_pyproject = None
    for folder in folders:
        for name in CONFIG_NAMES:
            if is_pytest_config(folder / name):
                return folder
        if first_pyproject is None and (folder / "pyproject.toml").is_file():
            first_pyproject = folder
    if first_pyproject is not None:
        return first_pyproject
    for folder in folders:
        if (folder / "setup.py").is_file():
            return folder
    for folder in folders:
        if (folder / ".git").exists():  # a folder, or a file in worktrees and submodules
            return folder
    return start
