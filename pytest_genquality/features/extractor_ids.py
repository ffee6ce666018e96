"""Which features may be compared with which statistics: the one rule, read from extractor ids.

An extractor id names the architecture, the weights and the preprocessing
(``inception-fid:<sha256 prefix of the weights>/<resize mode>[/dims-<d>]``, see
``features/inception.py``); statistics and features are comparable when their ids are equal.

One exception: statistics imported from a pytorch-fid / TTUR ``.npz`` (``mu``, ``sigma`` only).
Nothing in such a file says which weights made it; by convention (pytorch-fid ``--save-stats``,
the TTUR precomputed files) it is the official FID Inception at its default preprocessing, so
its id says so with an unknown provenance, ``inception-fid:pytorch-fid-stats-provenance-unknown/
pytorch-fid``, and it is compared only with features from the official weights (the sha256
prefix in their file name, ``6726825d``) under ``resize="pytorch-fid"`` and the same width.
Random or other weights, or another resize mode, are a mismatch: their FID against published
statistics would be a meaningless number.
"""

from __future__ import annotations

from .weights import REGISTRY

INCEPTION_PREFIX = "inception-fid:"
UNKNOWN_PROVENANCE_LABEL = "pytorch-fid-stats-provenance-unknown"
PYTORCH_FID_RESIZE = "pytorch-fid"
PYTORCH_FID_POOL_DIM = 2048  # pytorch-fid's default --dims; other widths carry "/dims-<d>" in the id
OFFICIAL_INCEPTION_SHA256_PREFIX = REGISTRY["inception-fid"].sha256_prefix  # "6726825d"


def imported_pytorch_fid_id(dim: int) -> str:
    """Extractor id of statistics read from a pytorch-fid / TTUR .npz of feature width ``dim``."""
    dims_part = "" if dim == PYTORCH_FID_POOL_DIM else f"/dims-{dim}"
    return f"{INCEPTION_PREFIX}{UNKNOWN_PROVENANCE_LABEL}/{PYTORCH_FID_RESIZE}{dims_part}"


def is_imported_pytorch_fid_id(extractor_id: str | None) -> bool:
    return bool(extractor_id) and extractor_id.startswith(f"{INCEPTION_PREFIX}{UNKNOWN_PROVENANCE_LABEL}/")


def _weights_and_rest(extractor_id: str) -> tuple[str, str] | None:
    """('<weights label>', '<resize>[/dims-d]') of an Inception id, None for other extractors."""
    if not extractor_id.startswith(INCEPTION_PREFIX):
        return None
    label, _, rest = extractor_id[len(INCEPTION_PREFIX) :].partition("/")
    return label, rest


def comparable(reference_id: str | None, extractor_id: str | None) -> bool:
    """Whether features made by ``extractor_id`` may be compared with statistics made by ``reference_id``.

    Unknown ids (None: raw feature arrays) are the caller's responsibility and compare.
    """
    if not reference_id or not extractor_id or reference_id == extractor_id:
        return True
    for imported, other in ((reference_id, extractor_id), (extractor_id, reference_id)):
        if is_imported_pytorch_fid_id(imported):
            parts = _weights_and_rest(other)
            return (
                parts is not None
                and parts[0].startswith(OFFICIAL_INCEPTION_SHA256_PREFIX)
                and parts[1] == _weights_and_rest(imported)[1]
            )
    return False


def mismatch_hint(reference_id: str, extractor_id: str) -> str:
    """The fix for a mismatch, in a sentence; specific when one side is imported pytorch-fid statistics."""
    if is_imported_pytorch_fid_id(reference_id) or is_imported_pytorch_fid_id(extractor_id):
        return (
            "Statistics imported from a pytorch-fid .npz are comparable only with the official FID Inception "
            f"weights (pt_inception-2015-12-05-{OFFICIAL_INCEPTION_SHA256_PREFIX}.pth) with resize='pytorch-fid' "
            "at the same feature width: use InceptionFID() with those weights, or rebuild the reference "
            "from its images with `genquality build-ref DIR --name NAME`."
        )
    return "Rebuild the reference with the same weights and preprocessing (`genquality build-ref DIR --name NAME`)."
