"""Forwarding for module paths of 0.2 that moved in 0.3 (the folders became the layers).

An old module keeps one line, ``__getattr__ = forward_to(__name__, "new.path")``: reading any
name from it imports the new module by name (no static import, so the layers stay one-way)
and warns once per name with the path to use instead.
"""

from __future__ import annotations

import importlib
import warnings


def forward_to(old: str, new: str):
    def __getattr__(name: str):
        if name.startswith("_"):
            # Private names never were API; tools that probe modules (pytest's collection, mock)
            # ask for ones that do not exist and must get a plain AttributeError, not a warning.
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old} moved to {new} in pytest-genquality 0.3; import {name} from {new}", DeprecationWarning, stacklevel=2
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__
