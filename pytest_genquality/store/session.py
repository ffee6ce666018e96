"""Moved in 0.3 to ``pytest_genquality.checks.run_state``; this path of 0.2 still works, with a DeprecationWarning."""

from .._moved import forward_to

__getattr__ = forward_to(__name__, "pytest_genquality.checks.run_state")
