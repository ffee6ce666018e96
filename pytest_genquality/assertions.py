"""Public assert_* helpers: compute a metric, then hand it to the one workflow in ``verdict``.

Each helper only knows how to compute its metric and what evidence its noise test needs;
recording, baselines, drift and messages are ``verdict.check_metric``'s job.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from . import session as session_module
from .batch import ImageBatch, images_to_uint8
from .metrics.fid import ExtractorMismatchError
from .metrics.frechet import FrechetSubsets, frechet_distance, frechet_distance_to_samples
from .reference import ReferenceStats
from .verdict import SPECS, DriftEvidence, MetricResult, MetricSpec, check_metric

_FEATURE_CACHE: "weakref.WeakKeyDictionary[ImageBatch, dict]" = weakref.WeakKeyDictionary()


def _as_batch(batch: Any, name: str = "batch") -> ImageBatch:
    if isinstance(batch, ImageBatch):
        return batch
    try:
        return ImageBatch(images_to_uint8(batch, name=name))
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error} (pass an ImageBatch, or ImageBatch.from_any(x, value_range=...) for floats)") from None


def default_inception():
    """The session's Inception (the ``inception`` fixture's object) or one made once per process."""
    from .features.inception import InceptionFID

    recorder = session_module.active_recorder()
    device = recorder.device if recorder is not None and recorder.device is not None else "cpu"
    return session_module.shared_extractor(f"inception:{device}", lambda: InceptionFID(device=device))


def batch_features(batch: ImageBatch, extractor, feature: str = "pool") -> np.ndarray:
    """Features of ``batch`` under ``extractor``, computed once per batch object and extractor."""
    per_batch = _FEATURE_CACHE.setdefault(batch, {})
    cache_key = getattr(extractor, "id", id(extractor))
    if cache_key not in per_batch:
        outputs = extractor(batch)
        per_batch[cache_key] = {name: (rows.detach().cpu().numpy() if hasattr(rows, "detach") else np.asarray(rows))
                                for name, rows in outputs.items()}
    return np.asarray(per_batch[cache_key][feature], dtype=np.float64)


def _reference(ref: Any, name: str = "ref") -> ReferenceStats:
    if isinstance(ref, ReferenceStats):
        return ref
    if isinstance(ref, str):
        recorder = session_module.active_recorder()
        if recorder is None:
            raise TypeError(f"{name}: a reference name ({ref!r}) needs the pytest plugin's store; outside pytest "
                            "pass ReferenceStats.load(PATH)")
        return recorder.store.load_reference(ref)
    raise TypeError(f"{name}: expected ReferenceStats or the name of stored reference statistics, got {type(ref).__name__}")


def _lane_of(batch: ImageBatch) -> str | None:
    return batch.meta.get("lane")


def _generated_line(batch: ImageBatch, lane: str | None) -> str:
    recorder = session_module.active_recorder()
    lane = lane or (recorder.lane if recorder else "unrecorded")
    return f"  generated  n={len(batch)}, seeds {batch.seed_range()}, lane {lane}"


def assert_fid_below(batch, ref, threshold: float, *, extractor=None, max_drift="auto") -> MetricResult:
    """FID of ``batch`` against reference statistics ``ref`` must stay below ``threshold``.

    ``ref``: ReferenceStats or the name of statistics in the store's ``refs/``. FID is compared
    with its baseline only at equal N: it is biased upward at small N (bias ~ 1/N), and a loss
    of diversity can *lower* it — pair it with ``assert_recall_above``.
    """
    batch = _as_batch(batch)
    reference = _reference(ref)
    _check_threshold("threshold", threshold)
    extractor = extractor or default_inception()
    extractor_id = getattr(extractor, "id", None)
    if extractor_id != reference.extractor_id:
        raise ExtractorMismatchError(
            f"ref: reference statistics {reference.name or ''} were built with extractor {reference.extractor_id}, "
            f"but the batch is measured with {extractor_id}; FID between them is meaningless. Rebuild the reference "
            "with the same weights and resize mode (`genquality build-ref DIR --name NAME`)."
        )
    rows = batch_features(batch, extractor, "pool")
    if len(rows) < 2:
        raise ValueError(f"batch: FID needs at least 2 images, got {len(rows)}")
    if rows.shape[0] < rows.shape[1]:
        value = frechet_distance_to_samples(reference.mu, reference.sigma, rows)
    else:
        value = frechet_distance(reference.mu, reference.sigma, rows.mean(axis=0), np.cov(rows, rowvar=False),
                                 sqrt_sigma1=reference.matrix_sqrt())
    evidence = DriftEvidence(rows, make_statistic=lambda pooled: FrechetSubsets(reference.mu, reference.sigma, pooled).distance)
    lane = _lane_of(batch)
    context = (
        f"  reference  {reference.name or 'in-memory'}  (n={reference.n}, extractor {reference.extractor_id})",
        _generated_line(batch, lane),
        f"  note       FID at n={len(batch)} is biased upward (~1/N) and a loss of diversity can lower it; "
        "pair it with assert_recall_above",
    )
    return check_metric(SPECS["fid"], value, threshold=threshold, max_drift=max_drift, n=len(batch),
                        extractor_id=extractor_id, lane=lane, qualifier=reference.name or None,
                        seeds=batch.seed_range(), evidence=evidence, context_lines=context, batch=batch)


def assert_metric(name: str, value: float, *, higher_is_better: bool, threshold: float | None = None,
                  max_drift="auto", samples=None, n: int | None = None) -> MetricResult:
    """Record and check any user metric with the same store and drift machinery.

    ``samples``: optional per-sample values whose mean is ``value``; they enable the
    bootstrap noise test for ``max_drift="auto"`` and a 95% interval.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name: expected a non-empty metric name, got {name!r}")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better: expected True or False, got {higher_is_better!r}")
    _check_threshold("threshold", threshold, allow_none=True)
    spec = MetricSpec(name, name, higher_is_better, "per-sample" if samples is not None else "scalar")
    evidence, ci = None, None
    if samples is not None:
        from .stats import bootstrap_mean_interval

        values = np.asarray(samples, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError("samples: expected a non-empty array of finite per-sample values")
        evidence = DriftEvidence(values)
        ci = bootstrap_mean_interval(values) if values.size >= 2 else None
        n = values.size if n is None else n
    return check_metric(spec, value, threshold=threshold, max_drift=max_drift, n=n, evidence=evidence, ci=ci)


def _check_threshold(name: str, threshold, *, allow_none: bool = False) -> None:
    if threshold is None and allow_none:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) \
            or not np.isfinite(threshold):
        raise TypeError(f"{name}: expected a finite number, got {threshold!r}")
