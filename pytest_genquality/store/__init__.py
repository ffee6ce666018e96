"""The snapshot store: atomic locked files (`files`), the on-disk layout (`layout`), the
per-session recorder (`session`), provenance of a run (`provenance`) and the drift history
read back from run files (`history`)."""

from .layout import Store

__all__ = ["Store"]
