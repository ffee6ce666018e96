"""Reference statistics: ``ReferenceStats`` and its file format, the one builder, image files."""

from .reference_stats import MAX_STORED_FEATURES, ReferenceStats

__all__ = ["MAX_STORED_FEATURES", "ReferenceStats"]
