"""``assert_quality``: several metrics of one batch, every one measured and recorded, one failure.

A test that calls ``assert_fid_below`` then ``assert_recall_above`` stops at the first failure,
so recall is never measured when FID fails, which is exactly when it matters (a worse FID with
a collapsed recall is a different bug from a worse FID alone). ``assert_quality`` runs each
requested check through its own ``assert_*`` helper (so through the one workflow,
``verdict.check_metric``), gathers the failures, and raises once listing them all. The batch's
features are extracted once: the helpers share ``assertions.batch_features``' per-batch cache.
"""

from __future__ import annotations

from typing import Any, Callable

from .assertions import (
    assert_clip_score_above,
    assert_coverage_above,
    assert_fid_below,
    assert_inception_score_above,
    assert_kid_below,
    assert_no_collapse,
    assert_precision_above,
    assert_recall_above,
)
from . import run_state as session_module
from .efficiency import assert_peak_memory_below, assert_seconds_per_image_below
from .scores import (
    assert_aesthetic_above,
    assert_fd_infinity_below,
    assert_hps_above,
    assert_pickscore_above,
    assert_vendi_above,
)
from .workflow import MetricCheckFailed, MetricResult
from ..errors import QualityChecksFailed  # noqa: F401  (0.2 import path)


def _against_reference(helper: Callable, extractor_keyword: str) -> Callable:
    def run(batch, ref, threshold, options: dict) -> MetricResult:
        return helper(
            batch, ref, threshold, max_drift=options["max_drift"], **{extractor_keyword: options[extractor_keyword]}
        )

    return run


def _inception_score(batch, ref, threshold, options: dict) -> MetricResult:
    return assert_inception_score_above(
        batch, threshold, extractor=options["extractor"], max_drift=options["max_drift"]
    )


def _no_collapse(batch, ref, requested, options: dict) -> MetricResult:
    return assert_no_collapse(batch, extractor=options["extractor"], max_drift=options["max_drift"])


def _clip_score(batch, ref, threshold, options: dict) -> MetricResult:
    return assert_clip_score_above(
        batch, threshold, options["prompts"], embedder=options["embedder"], max_drift=options["max_drift"]
    )


def _per_image_score(helper: Callable, scorer_name: str, takes_prompts: bool = True) -> Callable:
    def run(batch, ref, threshold, options: dict) -> MetricResult:
        prompts = {"prompts": options["prompts"]} if takes_prompts else {}
        return helper(
            batch,
            threshold,
            **prompts,
            scorer=(options["scorers"] or {}).get(scorer_name),
            max_drift=options["max_drift"],
        )

    return run


def _vendi(batch, ref, threshold, options: dict) -> MetricResult:
    return assert_vendi_above(batch, threshold, extractor=options["extractor"], max_drift=options["max_drift"])


def _efficiency(helper: Callable) -> Callable:
    def run(batch, ref, threshold, options: dict) -> MetricResult | None:
        return helper(options["timing_runs"] or batch, threshold, max_drift=options["max_drift"])

    return run


# keyword -> (result name, needs ``ref``, how to run it), in the order the checks run and are listed
CHECKS: dict[str, tuple[str, bool, Callable]] = {
    "fid_below": ("fid", True, _against_reference(assert_fid_below, "extractor")),
    "kid_below": ("kid", True, _against_reference(assert_kid_below, "extractor")),
    "precision_above": ("precision", True, _against_reference(assert_precision_above, "extractor")),
    "recall_above": ("recall", True, _against_reference(assert_recall_above, "extractor")),
    "coverage_above": ("coverage", True, _against_reference(assert_coverage_above, "extractor")),
    "inception_score_above": ("inception_score", False, _inception_score),
    "clip_score_above": ("clip_score", False, _clip_score),
    "no_collapse": ("log_nn_distance", False, _no_collapse),
    "fd_infinity_below": ("fd_infinity", True, _against_reference(assert_fd_infinity_below, "extractor")),
    "vendi_above": ("vendi", False, _vendi),
    "pickscore_above": ("pickscore", False, _per_image_score(assert_pickscore_above, "pickscore")),
    "hps_above": ("hps", False, _per_image_score(assert_hps_above, "hps")),
    "aesthetic_above": ("aesthetic", False, _per_image_score(assert_aesthetic_above, "aesthetic", takes_prompts=False)),
    "seconds_per_image_below": ("seconds_per_image", False, _efficiency(assert_seconds_per_image_below)),
    "peak_memory_below": ("peak_memory", False, _efficiency(assert_peak_memory_below)),
}


class _NotChecked:
    """The default of assert_quality's threshold keywords: that metric is not measured.

    Distinct from ``None``, which measures the metric, records it and gates on drift only.
    """

    def __repr__(self) -> str:
        return "NOT_CHECKED"


NOT_CHECKED = _NotChecked()


def assert_quality(
    batch,
    ref=None,
    *,
    fid_below: float | None = NOT_CHECKED,
    kid_below: float | None = NOT_CHECKED,
    precision_above: float | None = NOT_CHECKED,
    recall_above: float | None = NOT_CHECKED,
    coverage_above: float | None = NOT_CHECKED,
    inception_score_above: float | None = NOT_CHECKED,
    clip_score_above: float | None = NOT_CHECKED,
    no_collapse: bool = False,
    fd_infinity_below: float | None = NOT_CHECKED,
    vendi_above: float | None = NOT_CHECKED,
    pickscore_above: float | None = NOT_CHECKED,
    hps_above: float | None = NOT_CHECKED,
    aesthetic_above: float | None = NOT_CHECKED,
    seconds_per_image_below: float | None = NOT_CHECKED,
    peak_memory_below: float | None = NOT_CHECKED,
    extractor=None,
    embedder=None,
    prompts=None,
    scorers: dict | None = None,
    timing_runs=None,
    max_drift="auto",
) -> dict[str, MetricResult]:
    """Measure every requested metric of ``batch``, record them all, fail once listing each failure.

    Each ``<metric>_below`` / ``<metric>_above`` keyword is that metric's threshold, with the
    meaning of the matching ``assert_*`` helper (FID and KID against ``ref``, CLIP score on the
    0-100 scale against ``prompts`` or ``batch.prompts``). A keyword left out is not measured;
    given as ``None`` the metric is measured, recorded and checked by the drift gate only (the
    first run, before any value is known: ``genquality thresholds`` suggests one after
    ``pytest --update-refs``). ``no_collapse=True`` adds
    ``assert_no_collapse`` (no threshold: its drift test is the check). Every metric is compared with its own
    baseline with ``max_drift``. ``extractor`` / ``embedder`` default to the session's
    ``inception`` / ``clip`` fixtures (``extractor`` also gives Vendi's features). ``scorers``:
    {"pickscore" | "hps" | "aesthetic": scorer object} for the per-image scores (default each
    helper's). ``timing_runs``: repeated batches of the same work for ``seconds_per_image_below`` /
    ``peak_memory_below`` (default ``[batch]``: no timing noise, so no timing drift test);
    ``peak_memory_below`` is in bytes and is left out of the results on CPU (not measured).
    Returns {metric name: MetricResult} in the order of ``CHECKS``
    ("fid", "kid", "precision", "recall", "coverage", "inception_score", "clip_score", "log_nn_distance",
    "fd_infinity", "vendi", "pickscore", "hps", "aesthetic", "seconds_per_image", "peak_memory").
    Errors that are not quality failures (a bad argument, missing weights) raise at once.
    """
    thresholds = {
        "fid_below": fid_below,
        "kid_below": kid_below,
        "precision_above": precision_above,
        "recall_above": recall_above,
        "coverage_above": coverage_above,
        "inception_score_above": inception_score_above,
        "clip_score_above": clip_score_above,
        "no_collapse": True if no_collapse else NOT_CHECKED,
        "fd_infinity_below": fd_infinity_below,
        "vendi_above": vendi_above,
        "pickscore_above": pickscore_above,
        "hps_above": hps_above,
        "aesthetic_above": aesthetic_above,
        "seconds_per_image_below": seconds_per_image_below,
        "peak_memory_below": peak_memory_below,
    }
    requested = [keyword for keyword in CHECKS if thresholds[keyword] is not NOT_CHECKED]
    if not requested:
        raise TypeError(
            f"assert_quality: name at least one metric ({', '.join(f'{k}=...' for k in CHECKS)}); "
            "a threshold of None measures it and checks drift only"
        )
    needs_ref = [keyword for keyword in requested if CHECKS[keyword][1]]
    if needs_ref and ref is None:
        raise TypeError(
            f"ref: {', '.join(needs_ref)} compare with reference statistics; pass ref=gen_refs[NAME] "
            "or a ReferenceStats"
        )
    options: dict[str, Any] = {
        "extractor": extractor,
        "embedder": embedder,
        "prompts": prompts,
        "max_drift": max_drift,
        "scorers": scorers,
        "timing_runs": timing_runs,
    }
    results: dict[str, MetricResult] = {}
    failures: list[str] = []
    for keyword in requested:
        name, _, run = CHECKS[keyword]
        try:
            result = run(batch, ref, thresholds[keyword], options)
            if result is not None:  # None: not measured on this lane (peak memory on CPU)
                results[name] = result
        except MetricCheckFailed as failure:
            if failure.result is not None:
                results[name] = failure.result
            failures.append(str(failure))
    if failures:
        test = session_module.current_test()
        where = f"  ({test.node_id})" if test is not None else ""
        failed = [name for name, result in results.items() if result.verdict in ("fail", "no-baseline", "error")]
        headline = f"{len(failures)} of {len(requested)} quality checks failed: {', '.join(failed)}{where}"
        raise QualityChecksFailed("\n\n".join([headline, *failures]), results)
    return results
