"""Public assert_* helpers: compute a metric, then hand it to the one workflow in ``verdict``.

Each helper only knows how to compute its metric and what evidence its noise test needs;
recording, baselines, drift and messages are ``verdict.check_metric``'s job.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from . import run_state as session_module
from ..batch import ImageBatch, images_to_uint8, seed_range_text
from ..errors import ExtractorMismatchError, GenQualityWarning
from ..metrics.frechet import FrechetSubsets, frechet_distance_to_samples
from ..metrics.validation import to_numpy
from ..reference.reference_stats import ReferenceStats
from .workflow import SPECS, DriftEvidence, MetricResult, MetricSpec, check_metric

_FEATURE_CACHE: "weakref.WeakKeyDictionary[ImageBatch, dict]" = weakref.WeakKeyDictionary()


def _as_batch(batch: Any, name: str = "batch") -> ImageBatch:
    if isinstance(batch, ImageBatch):
        return batch
    try:
        return ImageBatch(images_to_uint8(batch, name=name))
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{error} (pass an ImageBatch, or ImageBatch.from_any(x, value_range=...) for floats)"
        ) from None


def default_inception():
    """The ``inception`` fixture's object (overridable in conftest.py); outside pytest one per process."""
    return session_module.default_extractor("inception")


def batch_features(batch: ImageBatch, extractor, feature: str = "pool") -> np.ndarray:
    """Features of ``batch`` under ``extractor``, computed once per batch object and extractor.

    ``extractor`` is an Inception-like callable returning {name: rows}, or a CLIPEmbedder
    (``feature="clip"``: its image embeddings).
    """
    batch.require_distinct_images()  # every metric on features is a set metric: copies bias it
    per_batch = _FEATURE_CACHE.setdefault(batch, {})
    cache_key = getattr(extractor, "id", id(extractor))
    if cache_key not in per_batch:
        per_batch[cache_key] = _stored_or_extracted(batch, extractor)
    if feature not in per_batch[cache_key]:
        raise ValueError(
            f"extractor: {getattr(extractor, 'id', type(extractor).__name__)} gives {sorted(per_batch[cache_key])} "
            f"features, not {feature!r}; use one that does (the Inception Score needs InceptionFID with dims=2048)"
        )
    return np.asarray(per_batch[cache_key][feature], dtype=np.float64)


def _extract(batch: ImageBatch, extractor) -> dict[str, np.ndarray]:
    outputs = {"clip": extractor.embed_images(batch)} if hasattr(extractor, "embed_images") else extractor(batch)
    return {name: to_numpy(rows) for name, rows in outputs.items()}


def _stored_or_extracted(batch: ImageBatch, extractor) -> dict[str, np.ndarray]:
    """Under ``--gen-cache``, features come from the feature cache (keyed by pixels and extractor id)."""
    from ..generation.cache import FeatureCache, feature_cache_key, images_sha256

    recorder = session_module.current_run()
    extractor_id = getattr(extractor, "id", None)
    if recorder is None or not recorder.settings.cache or not isinstance(extractor_id, str):
        return _extract(batch, extractor)
    cache = FeatureCache(recorder.store.cache_dir / "features")
    key = feature_cache_key(images_sha256(batch.images), extractor_id)
    features = cache.get(key)
    if features is not None:
        return features
    with cache.computing(key):  # an xdist worker extracting the same batch: wait for it, then read
        features = cache.get(key)
        if features is None:
            features = _extract(batch, extractor)
            cache.put(key, features, extractor_id)
    return features


def default_clip():
    """The ``clip`` fixture's object (overridable in conftest.py); outside pytest one per process."""
    return session_module.default_extractor("clip")


def _reference(ref: Any, name: str = "ref") -> ReferenceStats:
    if isinstance(ref, ReferenceStats):
        return ref
    if isinstance(ref, str):
        recorder = session_module.current_run()
        if recorder is None:
            raise TypeError(
                f"{name}: a reference name ({ref!r}) needs the pytest plugin's store; outside pytest "
                "pass ReferenceStats.load(PATH)"
            )
        return recorder.store.load_reference(ref)
    raise TypeError(
        f"{name}: expected ReferenceStats or the name of stored reference statistics, got {type(ref).__name__}"
    )


def _lane_of(batch: ImageBatch) -> str | None:
    return batch.meta.get("lane")


def _generated_line(batch: ImageBatch, lane: str | None) -> str:
    recorder = session_module.current_run()
    lane = lane or (recorder.lane if recorder else "unrecorded")
    return f"  generated  n={len(batch)}, seeds {batch.seed_range()}, lane {lane}"


def assert_fid_below(batch, ref, threshold: float | None, *, extractor=None, max_drift="auto") -> MetricResult:
    """FID of ``batch`` against reference statistics ``ref`` must stay below ``threshold``.

    ``threshold=None`` (every ``assert_*_below/above`` takes it): no absolute bar yet, the value is
    recorded and the drift gate alone checks it; ``genquality thresholds`` then suggests one from
    the recorded values and their seed-to-seed spread (the first-run path).

    ``ref``: ReferenceStats or the name of statistics in the store's ``refs/``. FID is compared
    with its baseline only at equal N: it is biased upward at small N (bias ~ 1/N), and a loss
    of diversity can *lower* it — pair it with ``assert_recall_above``.
    """
    batch, reference = _as_batch(batch), _reference(ref)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = _checked_extractor(reference, extractor, default_inception)
    rows = batch_features(batch, extractor, "pool")
    if len(rows) < 2:
        raise ValueError(f"batch: FID needs at least 2 images, got {len(rows)}")
    value = frechet_distance_to_samples(reference.mu, reference.sigma, rows, sqrt_sigma1=reference.matrix_sqrt)
    note = (
        f"  note       FID at n={len(batch)} is biased upward (~1/N) and a loss of diversity can lower it; "
        "pair it with assert_recall_above"
    )

    def make_statistic(pooled, eigenvalues="float64"):
        return FrechetSubsets(
            reference.mu, reference.sigma, pooled, sqrt_sigma_ref=reference.sqrt_sigma, eigenvalues=eigenvalues
        ).distance

    return _distribution_check(
        "fid",
        batch,
        reference,
        value,
        rows,
        make_statistic,
        threshold=threshold,
        max_drift=max_drift,
        extractor_id=extractor.id,
        extra_context=(note,),
        make_noise_statistic=lambda pooled: make_statistic(pooled, eigenvalues="float32"),
        rows_for=_growing_rows(batch, extractor),
    )


def assert_metric(
    name: str,
    value: float,
    *,
    higher_is_better: bool,
    threshold: float | None = None,
    max_drift="auto",
    samples=None,
    n: int | None = None,
    seeds=None,
) -> MetricResult:
    """Record and check any user metric with the same store and drift machinery.

    ``samples``: optional per-sample values whose mean is ``value``; they enable the
    bootstrap noise test for ``max_drift="auto"`` and a 95% interval. ``seeds``: the seeds the
    value was measured on (``batch.seeds``), recorded so that ``genquality thresholds`` can use
    values measured on disjoint seed blocks.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name: expected a non-empty metric name, got {name!r}")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better: expected True or False, got {higher_is_better!r}")
    _check_threshold("threshold", threshold, allow_none=True)
    spec = MetricSpec(name, name, higher_is_better, "per-sample" if samples is not None else "scalar")
    evidence, ci = None, None
    if samples is not None:
        from ..stats import bootstrap_mean_interval

        values = np.asarray(samples, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError("samples: expected a non-empty array of finite per-sample values")
        evidence = DriftEvidence(values)
        ci = bootstrap_mean_interval(values) if values.size >= 2 else None
        n = values.size if n is None else n
    recorded_seeds = "" if seeds is None else seed_range_text([int(seed) for seed in seeds])
    return check_metric(
        spec, value, threshold=threshold, max_drift=max_drift, n=n, evidence=evidence, ci=ci, seeds=recorded_seeds
    )


def _check_threshold(name: str, threshold, *, allow_none: bool = False) -> None:
    if threshold is None and allow_none:
        return
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float, np.floating, np.integer))
        or not np.isfinite(threshold)
    ):
        raise TypeError(f"{name}: expected a finite number, got {threshold!r}")


# ---- distribution metrics against a reference -------------------------------------------------
def _reference_features(reference: ReferenceStats, metric: str) -> np.ndarray:
    return np.asarray(reference.require_features(metric), dtype=np.float64)


def _checked_extractor(reference: ReferenceStats, extractor, default) -> Any:
    from ..features.extractor_ids import comparable, mismatch_hint

    extractor = extractor or default()
    extractor_id = getattr(extractor, "id", None)
    if extractor_id is None or not comparable(reference.extractor_id, extractor_id):
        raise ExtractorMismatchError(
            f"ref: reference statistics {reference.name or ''} were built with extractor {reference.extractor_id}, "
            f"but the batch is measured with {extractor_id}: not comparable. "
            f"{mismatch_hint(reference.extractor_id, extractor_id or '')}"
        )
    return extractor


def _reference_context(reference: ReferenceStats, batch: ImageBatch) -> tuple[str, ...]:
    return (
        f"  reference  {reference.name or 'in-memory'}  ({reference.count_label}, extractor {reference.extractor_id})",
        _generated_line(batch, _lane_of(batch)),
    )


def _growing_rows(batch: ImageBatch, extractor, feature: str = "pool"):
    """``rows_for(count)``: features of the batch's first ``count`` seeds, generating blocks it lacks
    (``generate(..., max_seeds=M)``); None when the batch cannot grow."""
    if batch.growth is None:
        return None

    def rows_for(count: int) -> np.ndarray:
        return np.concatenate([batch_features(block, extractor, feature) for block in batch.blocks(count)])[:count]

    return rows_for


class ImageSizeMismatchWarning(GenQualityWarning):
    """The batch's images are not the size of the images its reference statistics were built from."""


def _warn_on_other_image_size(batch: ImageBatch, reference: ReferenceStats) -> None:
    """Extractors resize both sides to their input size, so a comparison runs, but it then also measures the
    resampling (a 32 px batch against a 16 px reference is rarely what was meant)."""
    size = tuple(batch.images.shape[-2:])
    if reference.image_size is None or size == reference.image_size:
        return
    import warnings

    (height, width), (ref_height, ref_width) = size, reference.image_size
    warnings.warn(
        ImageSizeMismatchWarning(
            f"batch: images are {height}x{width} px but reference {reference.name or 'in-memory'} was built from "
            f"{ref_height}x{ref_width} px images; the value then also measures the resizing. Generate at "
            f"{ref_height}x{ref_width}, or rebuild the reference from {height}x{width} images"
        ),
        stacklevel=4,
    )


def _distribution_check(
    name: str,
    batch: ImageBatch,
    reference: ReferenceStats,
    value: float,
    rows: np.ndarray,
    make_statistic,
    *,
    threshold,
    max_drift,
    extractor_id,
    extra_context=(),
    details=None,
    make_noise_statistic=None,
    rows_for=None,
) -> MetricResult:
    """The shared tail of every reference-based distribution assertion."""
    _warn_on_other_image_size(batch, reference)
    evidence = DriftEvidence(
        rows,
        make_statistic=make_statistic,
        make_noise_statistic=make_noise_statistic,
        rows_for=rows_for,
        max_rows=batch.max_seeds if rows_for is not None else None,
    )
    return check_metric(
        SPECS[name],
        value,
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=extractor_id,
        lane=_lane_of(batch),
        qualifier=reference.name or None,
        seeds=batch.seed_range(),
        evidence=evidence,
        context_lines=_reference_context(reference, batch) + tuple(extra_context),
        batch=batch,
        details=details,
    )


def assert_kid_below(
    batch,
    ref,
    threshold: float | None,
    *,
    extractor=None,
    max_drift="auto",
    subsets: int = 100,
    subset_size: int = 1000,
) -> MetricResult:
    """KID (mean over subsets, torch-fidelity's estimator) of ``batch`` against ``ref`` below ``threshold``.

    Needs the reference's feature rows (kept when n <= 50 000). KID is unbiased, so unlike FID
    it can be compared across sample sizes; its noise band still comes from a permutation test.
    A ``subset_size`` larger than the batch or the reference is clipped to the smaller of the
    two; the size used is recorded with the result (``details``) and shown in the message.
    """
    from ..metrics.kernel_distance import kid, kid_subset_size
    from ..metrics.resampling import KernelMMDSubsets

    batch, reference = _as_batch(batch), _reference(ref)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = _checked_extractor(reference, extractor, default_inception)
    real = _reference_features(reference, "KID")
    rows = batch_features(batch, extractor, "pool")
    used = kid_subset_size(subset_size, len(real), len(rows))
    mean, std = kid(real, rows, subsets=subsets, subset_size=used)
    clipped = (
        (f" (subset_size={subset_size} clipped to the smaller set: {len(rows)} generated, {len(real)} reference rows)")
        if used < subset_size
        else ""
    )
    return _distribution_check(
        "kid",
        batch,
        reference,
        mean,
        rows,
        lambda pooled: KernelMMDSubsets(real, pooled, kernel="polynomial").distance,
        threshold=threshold,
        max_drift=max_drift,
        extractor_id=extractor.id,
        extra_context=(f"  KID std over {subsets} subsets of {used}: {std:.4g}{clipped}",),
        details={"subsets": subsets, "subset_size": used, "subset_size_requested": subset_size},
        rows_for=_growing_rows(batch, extractor),
    )


def _precision_recall_check(name: str, batch, ref, threshold: float | None, *, extractor, max_drift, k) -> MetricResult:
    from ..metrics.prdc import density_coverage, precision_recall
    from ..metrics.resampling import NeighbourhoodSubsets

    batch, reference = _as_batch(batch), _reference(ref)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = _checked_extractor(reference, extractor, default_inception)
    real = _reference_features(reference, name)
    rows = batch_features(batch, extractor, "pool")
    if name == "coverage":
        value = density_coverage(real, rows, k=k).coverage
    else:
        value = getattr(precision_recall(real, rows, k=k), name)
    return _distribution_check(
        name,
        batch,
        reference,
        value,
        rows,
        lambda pooled: getattr(NeighbourhoodSubsets(real, pooled, k=k), name),
        threshold=threshold,
        max_drift=max_drift,
        extractor_id=extractor.id,
    )


def assert_precision_above(
    batch, ref, threshold: float | None, *, extractor=None, max_drift="auto", k: int = 3
) -> MetricResult:
    """Improved precision (Kynkäänniemi et al. 2019; fidelity) of ``batch`` against ``ref``."""
    return _precision_recall_check("precision", batch, ref, threshold, extractor=extractor, max_drift=max_drift, k=k)


def assert_recall_above(
    batch, ref, threshold: float | None, *, extractor=None, max_drift="auto", k: int = 3
) -> MetricResult:
    """Improved recall (diversity): the gate that catches the mode collapse FID can miss."""
    return _precision_recall_check("recall", batch, ref, threshold, extractor=extractor, max_drift=max_drift, k=k)


def assert_coverage_above(
    batch, ref, threshold: float | None, *, extractor=None, max_drift="auto", k: int = 5
) -> MetricResult:
    """Coverage (Naeem et al. 2020): share of real samples whose k-NN ball holds a generated one."""
    return _precision_recall_check("coverage", batch, ref, threshold, extractor=extractor, max_drift=max_drift, k=k)


def assert_no_collapse(batch, *, threshold: float | None = None, extractor=None, max_drift="auto") -> MetricResult:
    """Fail when the batch's images crowd together more than at the baseline: a partial mode collapse.

    Measures the mean log distance from each image's features to its nearest other image in the
    batch (``metrics.collapse.log_nn_distance``; higher is more spread out) and compares it with
    the baseline by the drift gate's normal test, which, unlike a permutation test, can see a
    collapse of a few seeds (8 of 256). FID moves by about one seed-noise SD under such a
    collapse, recall and coverage not at all; this also falls under a uniform loss of diversity.
    No reference needed. ``threshold``: an optional floor on the value itself (log feature units,
    valid only at this N and extractor); the drift check is the point.
    """
    from ..metrics.collapse import (
        DUPLICATE_RATIO,
        NearestNeighbourSubsets,
        count_near_duplicates,
        mean_log_distance,
        nearest_neighbour_distances,
    )

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = extractor or default_inception()
    rows = batch_features(batch, extractor, "pool")
    if len(rows) < 2:
        raise ValueError(f"batch: a nearest-neighbour distance needs at least 2 images, got {len(rows)}")
    nearest = nearest_neighbour_distances(rows)  # once, for the value and the near-duplicate count
    duplicates = count_near_duplicates(nearest)
    return check_metric(
        SPECS["log_nn_distance"],
        mean_log_distance(nearest),
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=extractor.id,
        lane=_lane_of(batch),
        seeds=batch.seed_range(),
        evidence=DriftEvidence(rows, make_statistic=lambda pooled: NearestNeighbourSubsets(pooled).log_nn_distance),
        context_lines=(
            _generated_line(batch, _lane_of(batch)),
            f"  near-duplicates  {duplicates} of {len(batch)} images are closer to another image of the "
            f"batch than {DUPLICATE_RATIO:g} x the median nearest-neighbour distance",
        ),
        batch=batch,
        details={"near_duplicates": duplicates},
    )


def assert_inception_score_above(
    batch, threshold: float | None, *, extractor=None, max_drift="auto", splits: int = 10
) -> MetricResult:
    """Inception Score (torch-fidelity's: 1008 unbiased logits, splits=10, seed 2020) above ``threshold``."""
    from ..metrics.classifier_scores import inception_score

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = extractor or default_inception()
    logits = batch_features(batch, extractor, "logits_unbiased")
    if len(logits) < splits:
        raise ValueError(
            f"batch: the Inception Score with splits={splits} needs at least {splits} images, got {len(logits)}"
        )
    mean, std = inception_score(logits, splits=splits)
    return check_metric(
        SPECS["inception_score"],
        mean,
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=extractor.id,
        lane=_lane_of(batch),
        seeds=batch.seed_range(),
        evidence=DriftEvidence(
            logits, make_statistic=lambda pooled: lambda idx: inception_score(pooled[idx], splits=splits)[0]
        ),
        context_lines=(_generated_line(batch, _lane_of(batch)), f"  IS std over {splits} splits: {std:.4g}"),
        batch=batch,
    )


# ---- CLIP-based ------------------------------------------------------------------------------
def assert_clip_score_above(
    batch, threshold: float | None, prompts=None, *, embedder=None, max_drift="auto"
) -> MetricResult:
    """CLIP score (torchmetrics' CLIPScore: mean of 100·cos, floored at 0) of images vs their prompts.

    ``prompts`` default to ``batch.prompts``. The interval is a seeded bootstrap of the mean, and
    drift is a bootstrap of the paired mean difference: CLIP score is a per-sample mean.
    """
    from ..metrics.alignment import clip_score, per_pair_clip_scores
    from ..stats import bootstrap_mean_interval

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    prompts = list(prompts) if prompts is not None else batch.prompts
    if prompts is None:
        raise ValueError(
            "prompts: the batch carries no prompts; pass prompts=[...] (one per image) or generate "
            "with generate(model, prompts=...)"
        )
    if isinstance(prompts, str) or len(prompts) != len(batch):
        raise ValueError(
            f"prompts: expected one prompt per image ({len(batch)}), got "
            f"{'a single string' if isinstance(prompts, str) else len(prompts)}"
        )
    embedder = embedder or default_clip()
    image_rows = batch_features(batch, embedder, "clip")
    text_rows = embedder.embed_texts(prompts).numpy().astype(np.float64)
    per_pair = per_pair_clip_scores(image_rows, text_rows)
    ci = bootstrap_mean_interval(per_pair) if len(per_pair) >= 2 else None
    return check_metric(
        SPECS["clip_score"],
        clip_score(image_rows, text_rows),
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=embedder.id,
        lane=_lane_of(batch),
        seeds=batch.seed_range(),
        evidence=DriftEvidence(per_pair, paired=True),
        ci=ci,
        context_lines=(_generated_line(batch, _lane_of(batch)), f"  embedder   {embedder.id}"),
        batch=batch,
    )


def _clip_reference_rows(ref, embedder) -> tuple[np.ndarray, str]:
    """Reference CLIP embeddings from an ImageBatch of real images, an array, or ReferenceStats."""
    if isinstance(ref, ReferenceStats) or isinstance(ref, str):
        reference = _reference(ref)
        if reference.extractor_id != embedder.id:
            raise ExtractorMismatchError(
                f"ref: reference {reference.name} was built with {reference.extractor_id}, "
                f"not with the CLIP embedder {embedder.id}"
            )
        return _reference_features(reference, "CMMD"), reference.name or "in-memory"
    if isinstance(ref, ImageBatch) or hasattr(ref, "dtype") and str(getattr(ref, "dtype")) in ("torch.uint8", "uint8"):
        return batch_features(_as_batch(ref, "ref"), embedder, "clip"), f"{len(ref)} real images"
    rows = np.asarray(ref, dtype=np.float64)
    if rows.ndim != 2:
        raise TypeError(
            f"ref: expected real images, CLIP embeddings [N, d] or ReferenceStats, got {type(ref).__name__}"
        )
    return rows, f"{len(rows)} embeddings"


def assert_cmmd_below(
    batch,
    ref,
    threshold: float | None,
    *,
    embedder=None,
    max_drift="auto",
    sigma: float = 10.0,
    estimator: str = "unbiased",
) -> MetricResult:
    """CMMD (Jayasumana et al. 2024; ×1000) between CLIP embeddings of ``batch`` and of ``ref``.

    At sigma=10 on unit vectors CMMD is close to a distance between means and barely sees a loss
    of diversity: pair it with ``assert_recall_above`` or ``assert_coverage_above``.
    """
    from ..metrics.mmd import cmmd
    from ..metrics.resampling import KernelMMDSubsets

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    embedder = embedder or default_clip()
    real, described = _clip_reference_rows(ref, embedder)
    rows = batch_features(batch, embedder, "clip")
    value = cmmd(real, rows, sigma=sigma, estimator=estimator)
    return check_metric(
        SPECS["cmmd"],
        value,
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=embedder.id,
        lane=_lane_of(batch),
        seeds=batch.seed_range(),
        evidence=DriftEvidence(
            rows, make_statistic=lambda pooled: KernelMMDSubsets(real, pooled, kernel="rbf", sigma=sigma).distance
        ),
        context_lines=(f"  reference  {described}", _generated_line(batch, _lane_of(batch))),
        batch=batch,
    )


# ---- paired, same-seed comparison with stored baseline images --------------------------------
PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; recorded values are capped here


def _max_abs(a, b) -> np.ndarray:
    """Largest per-pixel difference of each pair, in uint8 levels (0..255)."""
    import torch

    difference = (a.to(torch.int16) - b.to(torch.int16)).abs()
    return difference.flatten(1).max(dim=1).values.numpy().astype(np.float64)


def _paired_values(metric: str, current, baseline, lpips_options: dict) -> np.ndarray:
    from ..features.image_metrics import lpips
    from ..metrics.pixel import psnr, ssim

    if metric == "lpips":
        return np.asarray(lpips(current, baseline, **lpips_options), dtype=np.float64)
    if metric == "ssim":
        return np.asarray(ssim(current, baseline), dtype=np.float64)
    if metric == "psnr":
        return np.minimum(np.asarray(psnr(current, baseline), dtype=np.float64), PSNR_CAP_DB)
    return _max_abs(current, baseline)


def assert_no_regression(
    batch, metric: str, *, max_value: float | None = None, min_value: float | None = None, **lpips_options
) -> MetricResult | None:
    """Compare each image with the stored baseline image of the same seed (paired, per seed).

    metric: "lpips" or "max_abs" (distances: give ``max_value``), "ssim" or "psnr" (similarities:
    give ``min_value``; PSNR is capped at 100 dB for identical images). Fails naming the worst
    seeds. ``pytest --update-refs`` stores the batch as the baseline images
    (``baselines/images/<node id>/<seed>.png``) and returns None: nothing is recorded then, but
    the metric is resolved (LPIPS weights loaded), so what the next run needs fails now.
    The recorded value is the worst image's, which is what the bound applies to. Generate with
    the same ``batch_size`` as the baseline: CPU kernels sum in a batch-size-dependent order,
    which can move a pixel by one level.
    """
    paired_metrics = {"lpips": "max_value", "max_abs": "max_value", "ssim": "min_value", "psnr": "min_value"}
    if metric not in paired_metrics:
        raise ValueError(f"metric: expected one of {sorted(paired_metrics)}, got {metric!r}")
    bound_name = paired_metrics[metric]
    bound = max_value if bound_name == "max_value" else min_value
    other = min_value if bound_name == "max_value" else max_value
    if bound is None or other is not None:
        raise TypeError(f"{bound_name}: {metric} needs {bound_name}=... (and not the other bound)")
    _check_threshold(bound_name, bound)
    batch = _as_batch(batch)
    if not batch.seeds or len(set(batch.seeds)) != len(batch.seeds):
        raise ValueError("batch: paired checks need one distinct seed per image (generate(..., seeds=...))")
    test_context = session_module.current_test()
    recorder = session_module.current_run()
    if test_context is None:
        raise RuntimeError(
            "assert_no_regression compares with stored baseline images, so it runs inside pytest "
            "with the genquality plugin"
        )
    if recorder.settings.update_refs:
        # Measure one image against itself: loads what the next plain run needs (LPIPS weights,
        # size checks), so a missing file fails now, not on the first run after the update.
        _paired_values(metric, batch.images[:1], batch.images[:1], lpips_options)
        test_context.pending_images = (batch.images, list(batch.seeds))
        return None
    baseline = recorder.store.load_images(test_context.node_id, batch.seeds)
    if baseline is None:
        raise AssertionError(
            f"no baseline images for {test_context.node_id} (seeds {batch.seed_range()}) in "
            f"{recorder.store.images_dir(test_context.node_id)}: run `pytest --update-refs`"
        )
    if baseline.shape != batch.images.shape:
        raise AssertionError(
            f"baseline images of {test_context.node_id} are {tuple(baseline.shape[2:])} px, the batch is "
            f"{tuple(batch.images.shape[2:])} px: not comparable; run `pytest --update-refs`"
        )
    spec = SPECS[metric]
    values = _paired_values(metric, batch.images, baseline, lpips_options)
    order = np.argsort(values)
    worst_first = order[::-1] if not spec.higher_is_better else order
    worst = float(values[worst_first[0]])
    shown = ", ".join(f"seed {batch.seeds[i]} ({values[i]:.4g})" for i in worst_first[:5])
    beyond = int(np.sum(values < bound) if spec.higher_is_better else np.sum(values > bound))
    context = (
        _generated_line(batch, _lane_of(batch)),
        f"  per seed   {beyond} of {len(values)} beyond {bound_name}={bound:g}; worst: {shown}",
        f"  mean       {values.mean():.4g}",
    )
    return check_metric(
        spec,
        worst,
        threshold=bound,
        max_drift=None,
        n=len(batch),
        extractor_id=f"paired:{metric}",
        lane=_lane_of(batch),
        qualifier="paired",
        seeds=batch.seed_range(),
        context_lines=context,
        compare_baseline=False,
        batch=batch,
    )
