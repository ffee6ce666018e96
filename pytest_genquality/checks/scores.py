"""Issue 21's scores as assertions: preference and aesthetic scores per image, Vendi, FD∞.

Each helper computes its metric and hands it to the one workflow (``workflow.check_metric``)
with the evidence its noise test needs:

- PickScore, HPSv2, LAION aesthetic: one score per image, the value is their mean. Like CLIP
  score they go through the per-sample path: the per-image scores are the evidence, paired row
  for row with the baseline's when the seeds are the same (generate with the same prompts and
  seeds). The per-prompt means, and their change from the baseline's when the baseline is paired,
  are recorded in the result's ``details["per_prompt"]`` (worst first) and the failure message
  names the prompts that lost the most.
- Vendi score (diversity, no reference) and FD∞ (against reference statistics): distribution
  metrics; their noise test re-assigns feature rows like FID's.

As in every ``assert_*``, ``threshold=None`` measures, records and gates on drift only (a first run).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import run_state as session_module
from ..store.layout import array_name
from .assertions import (
    _as_batch,
    _check_threshold,
    _checked_extractor,
    _distribution_check,
    _generated_line,
    _lane_of,
    _reference,
    batch_features,
    default_inception,
)
from .workflow import SPECS, DriftEvidence, MetricResult, check_metric, same_seeds

PROMPTS_SHOWN = 5  # prompts named in a failure message (all of them are in details["per_prompt"])


# ---- per-image scores, paired by seed -------------------------------------------------------------
def _default_scorer(kind: str, build) -> Any:
    device = session_module.run_device()
    return session_module.shared_extractor(f"{kind}:{device}", lambda: build(device))


def _paired_baseline_rows(key: str, lane: str | None, seeds: str) -> np.ndarray | None:
    """The stored per-image scores of this test's baseline when they pair with this batch's seeds, else None."""
    test_context = session_module.current_test()
    recorder = session_module.current_run()
    if test_context is None or recorder is None or recorder.settings.update_refs:
        return None
    lane = lane or recorder.lane
    entry = recorder.store.read_baselines(test_context.test_file).get(test_context.node_id, {}).get(key, {}).get(lane)
    if entry is None or not same_seeds(entry.get("seeds"), seeds):
        return None
    return recorder.store.load_features(test_context.node_id, array_name(key, lane))


def per_prompt_summary(
    scores: np.ndarray, prompts: list[str] | None, baseline_scores: np.ndarray | None = None
) -> list[dict]:
    """Mean score per distinct prompt, worst first: by change from the baseline when one pairs, else by value.

    Each row: {"prompt", "n" (images), "value", and with a paired baseline "baseline", "delta"}.
    Without prompts (the aesthetic score needs none) the summary is empty.
    """
    if prompts is None:
        return []
    paired = baseline_scores is not None and len(baseline_scores) == len(scores)
    rows = []
    for prompt in dict.fromkeys(prompts):
        mask = np.array([p == prompt for p in prompts])
        row = {"prompt": prompt, "n": int(mask.sum()), "value": float(scores[mask].mean())}
        if paired:
            row["baseline"] = float(np.asarray(baseline_scores, dtype=np.float64)[mask].mean())
            row["delta"] = row["value"] - row["baseline"]
        rows.append(row)
    return sorted(rows, key=lambda row: row["delta"] if paired else row["value"])


def _per_prompt_line(summary: list[dict]) -> str | None:
    if not summary:
        return None
    shown = summary[:PROMPTS_SHOWN]
    if "delta" in shown[0]:
        words = ", ".join(f"{row['prompt']!r} {row['delta']:+.4g} ({row['n']} images)" for row in shown)
        return f"  per prompt lost the most vs the baseline: {words}"
    words = ", ".join(f"{row['prompt']!r} {row['value']:.4g} ({row['n']} images)" for row in shown)
    return f"  per prompt lowest: {words}"


def _per_image_check(
    name: str, batch, scores, prompts: list[str] | None, threshold, *, scorer_id: str, max_drift
) -> MetricResult:
    """The shared tail of the per-image score assertions: mean, bootstrap interval, paired evidence."""
    from ..stats import bootstrap_mean_interval

    scores = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores, dtype=np.float64).ravel()
    if scores.shape[0] != len(batch):
        raise ValueError(f"scorer: {scorer_id} returned {scores.shape[0]} scores for {len(batch)} images")
    lane, seeds = _lane_of(batch), batch.seed_range()
    summary = per_prompt_summary(scores, prompts, _paired_baseline_rows(name, lane, seeds))
    context = [_generated_line(batch, lane), f"  scorer     {scorer_id}"]
    if (line := _per_prompt_line(summary)) is not None:
        context.append(line)
    return check_metric(
        SPECS[name],
        float(scores.mean()),
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=scorer_id,
        lane=lane,
        seeds=seeds,
        evidence=DriftEvidence(scores, paired=True),
        ci=bootstrap_mean_interval(scores) if len(scores) >= 2 else None,
        context_lines=tuple(context),
        batch=batch,
        details={"per_prompt": summary} if summary else None,
    )


def _prompts(batch, prompts) -> list[str]:
    from ..features.prompts import prompts_for

    prompts = prompts_for(batch, prompts)
    if len(prompts) != len(batch):
        raise ValueError(f"prompts: expected one prompt per image ({len(batch)}), got {len(prompts)}")
    return prompts


def assert_pickscore_above(
    batch, threshold: float | None, prompts=None, *, scorer=None, max_drift="auto"
) -> MetricResult:
    """Mean PickScore (Kirstain et al. 2023; ~100 × cosine, higher is better) of the images vs their prompts.

    ``prompts`` default to ``batch.prompts``. ``scorer``: a ``features.PickScore``; default the
    released ``yuvalkirstain/PickScore_v1`` from the local Hugging Face cache, on the session's
    device. Drift: bootstrap of the mean difference, paired per seed with the baseline's scores.
    """
    from ..features.pickscore import PickScore

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    prompts = _prompts(batch, prompts)
    scorer = scorer or _default_scorer("pickscore", lambda device: PickScore(device=device))
    return _per_image_check(
        "pickscore", batch, scorer.score(batch, prompts), prompts, threshold, scorer_id=scorer.id, max_drift=max_drift
    )


def assert_hps_above(batch, threshold: float | None, prompts=None, *, scorer=None, max_drift="auto") -> MetricResult:
    """Mean HPSv2 (Wu et al. 2023; 100 × cosine, the benchmark's ~25-29 scale) of the images vs their prompts.

    ``scorer``: a ``features.HPSv2``; default v2.0 with its checkpoint from ``--gen-weights-dir``
    or the torch hub folder (needs ``open-clip-torch``). v2.0 and v2.1 never compare (ids differ).
    """
    from ..features.hps import HPSv2

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    prompts = _prompts(batch, prompts)
    scorer = scorer or _default_scorer("hps", lambda device: HPSv2(device=device))
    return _per_image_check(
        "hps", batch, scorer.score(batch, prompts), prompts, threshold, scorer_id=scorer.id, max_drift=max_drift
    )


def assert_aesthetic_above(batch, threshold: float | None, *, scorer=None, max_drift="auto") -> MetricResult:
    """Mean LAION aesthetic score (1..10, higher is better) of the images; prompt-blind.

    ``scorer``: a ``features.AestheticPredictor``; default the official head with CLIP ViT-L/14 on
    the session's device (pass ``AestheticPredictor(clip=clip)`` to share the ``clip`` fixture).
    When the batch carries prompts, the per-prompt means are recorded and shown as for PickScore.
    """
    from ..features.aesthetic import AestheticPredictor

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    scorer = scorer or _default_scorer("aesthetic", lambda device: AestheticPredictor(device=device))
    return _per_image_check(
        "aesthetic", batch, scorer.score(batch), batch.prompts, threshold, scorer_id=scorer.id, max_drift=max_drift
    )


# ---- distribution scores ----------------------------------------------------------------------------
def assert_vendi_above(
    batch, threshold: float | None, *, extractor=None, kernel: str = "cosine", max_drift="auto"
) -> MetricResult:
    """Vendi score (Friedman & Dieng 2023; the effective number of distinct images, 1..min(N, D)) above ``threshold``.

    Diversity without a reference: a mode collapse or prompt-ignoring near-copies lower it.
    ``extractor``: any extractor's features: an Inception-like one (its ``pool`` rows; default the
    session's ``inception``) or a ``CLIPEmbedder`` / DINOv2 embedder (image embeddings). The value
    grows with N, so it is compared with its baseline only at equal N.
    """
    from ..metrics.vendi import KERNELS, vendi_score

    batch = _as_batch(batch)
    _check_threshold("threshold", threshold, allow_none=True)
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    extractor = extractor or default_inception()
    rows = batch_features(batch, extractor, "clip" if hasattr(extractor, "embed_images") else "pool")
    if len(rows) < 2:
        raise ValueError(f"batch: a diversity score needs at least 2 images, got {len(rows)}")
    return check_metric(
        SPECS["vendi"],
        vendi_score(rows, kernel=kernel),
        threshold=threshold,
        max_drift=max_drift,
        n=len(batch),
        extractor_id=extractor.id,
        lane=_lane_of(batch),
        seeds=batch.seed_range(),
        evidence=DriftEvidence(rows, make_statistic=lambda pooled: lambda idx: vendi_score(pooled[idx], kernel=kernel)),
        context_lines=(_generated_line(batch, _lane_of(batch)), f"  features   {extractor.id}, {kernel} kernel"),
        batch=batch,
        details={"kernel": kernel},
    )


def assert_fd_infinity_below(
    batch, ref, threshold: float | None, *, extractor=None, max_drift="auto", seed: int = 0
) -> MetricResult:
    """FD∞ (Chong & Forsyth 2020: FID extrapolated to N = ∞) of ``batch`` against ``ref`` below ``threshold``.

    FID_n on seeded subsets of 15 sizes from N/10 (at most 5 000) to N, a least-squares line in
    1/n, its intercept (``metrics.fd_infinity``). The fit (slope, sizes) is recorded in
    ``details``. Cost: each value is 15 Frechet distances, and the "auto" drift test re-computes
    it per re-assignment of rows (tens to a few hundred times, plus 64 for the seed-noise estimate
    under ``--update-refs``); with 2048-d Inception features at large N pass ``max_drift`` as a
    number or percentage to skip that.
    """
    from ..metrics.fd_infinity import fd_infinity

    batch, reference = _as_batch(batch), _reference(ref)
    _check_threshold("threshold", threshold, allow_none=True)
    extractor = _checked_extractor(reference, extractor, default_inception)
    rows = batch_features(batch, extractor, "pool")
    if len(rows) < 3:
        raise ValueError(
            f"batch: FD∞ fits FID over at least 2 subset sizes and needs at least 3 images, got {len(rows)}"
        )
    root = reference.matrix_sqrt()  # once, not per subset fit
    fit = fd_infinity(rows, reference.mu, reference.sigma, seed=seed, sqrt_sigma_ref=root)

    def make_statistic(pooled):
        return lambda idx: (
            fd_infinity(pooled[idx], reference.mu, reference.sigma, seed=seed, sqrt_sigma_ref=root).fd_infinity
        )

    note = (
        f"  fit        FID_n = {fit.fd_infinity:.4g} + {fit.slope:.4g} / n over n = "
        f"{fit.subset_sizes[0]}..{fit.subset_sizes[-1]} ({len(fit.subset_sizes)} sizes, seed {seed})"
    )
    return _distribution_check(
        "fd_infinity",
        batch,
        reference,
        fit.fd_infinity,
        rows,
        make_statistic,
        threshold=threshold,
        max_drift=max_drift,
        extractor_id=extractor.id,
        extra_context=(note,),
        details={"slope": fit.slope, "subset_sizes": list(fit.subset_sizes), "seed": seed},
    )
