"""Efficiency gates: seconds per image and peak device memory, as ``generate`` records them.

Both are lower-is-better metrics of the *lane* (device, GPU name, dtype, torch version): they go
through the one workflow (``workflow.check_metric``), whose baselines are per lane, so a timing on
an H100 is never compared with one on a CPU.

- Seconds per image: its noise is the machine's (clocks, other processes, allocator state), not
  the seeds', so the evidence is *repeated runs of the same work*: pass several batches generated
  with the same arguments (leave out a warm-up run: first-call compilation and autotuning are a
  different quantity). The drift test is the workflow's "normal" test with the run-to-run SD of
  the baseline's runs (``metrics.timing_noise``: noise SD of a difference of two means of k runs
  = SD × sqrt(2/k)); the value's interval is ``timing_noise``'s Student-t interval.
- Peak device memory: the CUDA allocator's peak during generation, deterministic for a lane and
  batch, so "auto" drift is a fixed relative tolerance (``PEAK_MEMORY_AUTO_DRIFT``). On CPU and MPS
  no per-batch peak exists (``generation.efficiency``): the check measures nothing, warns
  ``PeakMemoryNotMeasuredWarning`` and returns None, so one test file serves CPU and GPU lanes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..batch import ImageBatch
from ..metrics.efficiency import timing_noise
from .assertions import _check_threshold, _generated_line
from .workflow import SPECS, DriftEvidence, MetricResult, check_metric
from ..errors import PeakMemoryNotMeasuredWarning

PEAK_MEMORY_AUTO_DRIFT = "2%"  # "auto" for a deterministic peak: allocator rounding and workspaces, not noise
GIB = 2**30


def _runs(batches: Any, argument: str) -> list[ImageBatch]:
    """One ImageBatch or a list of repeated ones, all from ``generate``, same lane and size."""
    runs = (
        [batches] if isinstance(batches, ImageBatch) else list(batches) if isinstance(batches, (list, tuple)) else None
    )
    if not runs or not all(isinstance(run, ImageBatch) for run in runs):
        raise TypeError(
            f"{argument}: expected an ImageBatch from the generate fixture or a list of repeated ones, "
            f"got {type(batches).__name__}"
        )
    for index, run in enumerate(runs):
        if run.meta.get("cached"):
            raise ValueError(
                f"{argument}[{index}]: was served from --gen-cache, so nothing was timed; "
                "run efficiency tests without --gen-cache"
            )
        if "seconds_per_image" not in run.meta:
            raise ValueError(
                f"{argument}[{index}]: carries no timing (batch.meta['seconds_per_image']); "
                "measure batches made by the generate fixture"
            )
    lanes = {run.meta.get("lane") for run in runs}
    sizes = {len(run) for run in runs}
    work = {(run.meta.get("generator"), run.meta.get("batch_size"), str(run.meta.get("kwargs"))) for run in runs}
    if len(lanes) > 1 or len(sizes) > 1 or len(work) > 1:
        raise ValueError(
            f"{argument}: repeated runs must be the same work on one lane; got lanes {sorted(map(str, lanes))}, "
            f"sizes {sorted(sizes)}, {len(work)} different generate() calls"
        )
    return runs


def _work_id(run: ImageBatch) -> str:
    """What was timed, the extractor id's role: the generator, its batch size and its arguments.

    The model's weights are not in it: a slower checkpoint of the same model is what the gate is for.
    """
    return f"generate:{run.meta.get('generator')}:batch_size={run.meta.get('batch_size')}:{run.meta.get('kwargs')}"


def assert_seconds_per_image_below(batches, threshold: float | None, *, max_drift="auto") -> MetricResult:
    """Mean seconds per image over repeated runs below ``threshold``, and no slower than the lane's baseline.

    ``threshold=None``: measured, recorded and gated on drift only (a first run).
    batches: ImageBatches made by ``generate`` with identical arguments, one per repeated run
    (3 or more for the drift test; a single batch is checked against the threshold, and its
    drift is reported untested). Timing noise comes from the spread of these runs, never from
    seeds. Note: the margin is the spread *within* one session; a machine that is busier on
    another day is slower beyond it, so on shared runners set ``gen_drift_margin`` for
    ``seconds_per_image`` or ``max_drift`` as a percentage.
    """
    runs = _runs(batches, "batches")
    _check_threshold("threshold", threshold, allow_none=True)
    values = np.array([run.meta["seconds_per_image"] for run in runs], dtype=np.float64)
    first = runs[0]
    lane = first.meta.get("lane")
    shown = ", ".join(f"{value:.4g}" for value in values)
    context = [_generated_line(first, lane), f"  runs       {len(values)} timed: {shown} s/image"]
    evidence, ci = None, None
    if len(values) >= 2:
        noise = timing_noise(values)
        ci = noise.interval
        evidence = DriftEvidence(values, paired=False)
        context.append(f"  run-to-run SD {noise.sd:.3g} s/image ({noise.runs} runs; compared on this lane only)")
    return check_metric(
        SPECS["seconds_per_image"],
        float(values.mean()),
        threshold=threshold,
        max_drift=max_drift,
        n=len(first),
        extractor_id=_work_id(first),
        lane=lane,
        seeds=first.seed_range(),
        evidence=evidence,
        ci=ci,
        context_lines=tuple(context),
        batch=first,
        details={"runs": values.tolist()},
    )


def assert_peak_memory_below(batches, threshold_bytes: float | None, *, max_drift="auto") -> MetricResult | None:
    """Peak device memory of the generation (bytes, the largest over ``batches``) below ``threshold_bytes``.

    Compared with the lane's baseline; ``max_drift="auto"`` is ``PEAK_MEMORY_AUTO_DRIFT`` of the
    baseline (the peak is deterministic). On CPU and MPS nothing is measured: warns
    ``PeakMemoryNotMeasuredWarning``, records nothing and returns None.
    """
    runs = _runs(batches, "batches")
    _check_threshold("threshold_bytes", threshold_bytes, allow_none=True)
    peaks = [run.meta.get("peak_memory_bytes") for run in runs]
    lane = runs[0].meta.get("lane")
    if any(peak is None for peak in peaks):
        warnings.warn(
            PeakMemoryNotMeasuredWarning(
                f"peak device memory not measured on lane {lane}: only CUDA has a per-batch allocator peak; "
                "the check is skipped on this lane"
            ),
            stacklevel=2,
        )
        return None
    value = float(max(peaks))
    bar = "no threshold" if threshold_bytes is None else f"threshold {threshold_bytes / GIB:.3f} GiB"
    return check_metric(
        SPECS["peak_memory"],
        value,
        threshold=None if threshold_bytes is None else float(threshold_bytes),
        max_drift=PEAK_MEMORY_AUTO_DRIFT if max_drift == "auto" else max_drift,
        n=len(runs[0]),
        extractor_id=_work_id(runs[0]),
        lane=lane,
        seeds=runs[0].seed_range(),
        context_lines=(_generated_line(runs[0], lane), f"  peak       {value / GIB:.3f} GiB ({bar})"),
        batch=runs[0],
        details={"peaks": peaks},
    )
