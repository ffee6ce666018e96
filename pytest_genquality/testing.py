"""Helpers for testing code that uses pytest-genquality without the official weights.

The random weights have the real architecture, so every code path runs, but their extractor
``.id`` says ``random-seed-N``: numbers made with them can never be mixed with official ones.
(``pytest_genquality.build_random_inception_weights`` still works, as in 0.2.)
"""

from __future__ import annotations

from .features.clip_demo import write_demo_clip
from .features.inception import build_random_inception_weights

__all__ = ["build_random_inception_weights", "write_demo_clip"]
