"""The package version, in one place (pyproject.toml carries the same number): the bottom layer, so a
run file can record it without importing the package root."""

__version__ = "0.3.0"
