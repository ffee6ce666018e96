"""``genquality thresholds``: absolute thresholds suggested from the store's recorded values and their spread.

The first-run path (README "A first quality test"): assertions with ``threshold=None`` record
their values and gate on drift only; ``pytest --update-refs`` writes the baselines; this command
then prints, per baselined metric, a threshold an unchanged model passes on a fresh block of
seeds with probability 1 - ``--false-fail`` (``stats.thresholds``), the seed blocks it rests on,
and ready-to-paste lines.

Where the spread comes from, per (test, metric key, lane) baseline:
1. disjoint seed blocks: values recorded in run files of the baseline's commit, same N and
   lane, contiguous seed ranges that do not overlap (the baseline's block included) — a test run
   on other seeds (``seeds=range(k * N, (k + 1) * N)``) adds one; used from ``MIN_BLOCKS`` on;
2. otherwise the baseline's stored seed-noise SD (one block, the baseline's);
3. otherwise nothing is suggested (a scalar ``assert_metric`` without samples has no spread).
"""

from __future__ import annotations

import re

from ..checks.workflow import SPECS
from ..stats.thresholds import (
    DEFAULT_FALSE_FAIL,
    MIN_BLOCKS,
    Suggestion,
    from_blocks,
    from_seed_noise,
    rounded_outwards,
)

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")

# metric name -> (ready-to-paste call with {t}, assert_quality keyword or None)
PASTE = {
    "fid": ("assert_fid_below(batch, ref, {t})", "fid_below"),
    "kid": ("assert_kid_below(batch, ref, {t})", "kid_below"),
    "precision": ("assert_precision_above(batch, ref, {t})", "precision_above"),
    "recall": ("assert_recall_above(batch, ref, {t})", "recall_above"),
    "coverage": ("assert_coverage_above(batch, ref, {t})", "coverage_above"),
    "inception_score": ("assert_inception_score_above(batch, {t})", "inception_score_above"),
    "clip_score": ("assert_clip_score_above(batch, {t})", "clip_score_above"),
    "cmmd": ("assert_cmmd_below(batch, ref, {t})", None),
    "log_nn_distance": ("assert_no_collapse(batch, threshold={t})", None),
}


def seed_block(seeds: str | None, n: int | None) -> tuple[int, int] | None:
    """(first, last) of a contiguous seed range of exactly ``n`` seeds ("0..199"), else None."""
    match = _RANGE.match(seeds or "")
    if not match or n is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    return (first, last) if last - first + 1 == n else None


def recorded_blocks(node_id: str, key: str, lane: str, entry: dict, runs: list[tuple[str, dict]]) -> dict:
    """(first, last) seed block -> value, for the baseline's model: its own block and same-commit runs.

    Runs are read oldest first, so a block measured twice keeps its newest value; overlapping
    blocks are dropped (they are not independent), keeping the baseline's.
    """
    n = entry.get("n")
    found: dict[tuple[int, int], float] = {}
    for _, payload in runs:
        provenance = payload.get("provenance", {})
        if provenance.get("commit") != entry.get("commit") or bool(provenance.get("dirty")) != bool(entry.get("dirty")):
            continue
        for result in payload.get("results", []):
            if (
                (result.get("test"), result.get("key"), result.get("lane")) != (node_id, key, lane)
                or result.get("n") != n
                or result.get("verdict") == "error"
            ):
                continue
            block = seed_block(result.get("seeds"), n)
            if block is not None:
                found[block] = float(result["value"])
    own = seed_block(entry.get("seeds"), n)
    kept: dict[tuple[int, int], float] = {own: float(entry["value"])} if own else {}
    for block in sorted(found):
        if all(block[1] < other[0] or block[0] > other[1] for other in kept):
            kept[block] = found[block]
    return kept


def suggest(node_id: str, key: str, lane: str, entry: dict, runs, false_fail: float) -> Suggestion | str:
    """The suggestion for one baseline entry, or why there is none."""
    name = key.split("@")[0]
    spec = SPECS.get(name)
    higher_is_better = bool(entry.get("higher_is_better", spec.higher_is_better if spec else False))
    blocks = recorded_blocks(node_id, key, lane, entry, runs)
    if len(blocks) >= MIN_BLOCKS:
        return from_blocks(list(blocks.values()), higher_is_better=higher_is_better, false_fail=false_fail)
    noise_sd = entry.get("noise_sd")
    few = f" ({len(blocks)} seed blocks recorded, fewer than {MIN_BLOCKS})" if len(blocks) > 1 else ""
    if noise_sd is not None:
        suggestion = from_seed_noise(
            float(entry["value"]),
            float(noise_sd),
            higher_is_better=higher_is_better,
            distribution=spec is not None and spec.family == "distribution" and spec.noise_test == "resample",
            false_fail=false_fail,
        )
        return Suggestion(**{**suggestion.__dict__, "basis": suggestion.basis + few})
    return (
        f"no seed-to-seed spread known{few}: a value recorded without per-sample evidence; record it on "
        f"{MIN_BLOCKS} or more disjoint seed blocks of N={entry.get('n')} at one commit (runs of the test with "
        "seeds k*N..(k+1)*N-1; assert_metric needs seeds=), or pass samples= to assert_metric"
    )


def paste_line(key: str, threshold: float, higher_is_better: bool) -> str:
    name = key.split("@")[0]
    if name in PASTE:
        return PASTE[name][0].format(t=f"{threshold:g}")
    return f"assert_metric({name!r}, value, higher_is_better={higher_is_better}, threshold={threshold:g})"


def thresholds_lines(
    baselines: dict, runs: list[tuple[str, dict]], *, false_fail: float = DEFAULT_FALSE_FAIL, test: str | None = None
) -> list[str]:
    """The command's report. ``baselines``: node id -> key -> lane -> entry (all test files merged)."""
    lines = [
        f"Suggested thresholds: each is passed by the unchanged model on a fresh block of seeds of the same N "
        f"(new seeds, a retrained equivalent model) with probability {1 - false_fail:.4g}: a false-fail rate "
        f"of {false_fail:.2%} per check (--false-fail), so up to m x {false_fail:.2%} for a session of m checks. "
        "Rounded to the lenient side.",
        "",
    ]
    shown, one_block = 0, False
    for node_id in sorted(baselines):
        if (test and test not in node_id) or not any(baselines[node_id].values()):
            continue
        lines.append(node_id)
        keywords = []
        for key in sorted(baselines[node_id]):
            for lane, entry in sorted(baselines[node_id][key].items()):
                shown += 1
                head = f"  {key}  [{lane}]  n={entry.get('n')}  baseline {entry['value']:.4g} (seeds {entry.get('seeds') or '?'})"
                found = suggest(node_id, key, lane, entry, runs, false_fail)
                if isinstance(found, str):
                    lines.extend([head, f"      {found}"])
                    continue
                one_block = one_block or found.blocks == 1
                threshold = rounded_outwards(found.threshold, found.higher_is_better)
                lines.append(f"{head}  ->  {found.relation} {threshold:g}")
                lines.append(f"      from {found.basis}")
                lines.append(f"      {paste_line(key, threshold, found.higher_is_better)}")
                keyword = PASTE.get(key.split("@")[0], (None, None))[1]
                if keyword:
                    keywords.append(f"{keyword}={threshold:g}")
        if len(keywords) > 1:
            lines.append(f"      or in one call: assert_quality(batch, ref, {', '.join(keywords)})")
        lines.append("")
    if one_block:
        lines.append(
            f"From 1 seed block, a lucky or unlucky baseline block moves its bound with it; for a firmer number "
            f"record the test on {MIN_BLOCKS} or more disjoint blocks of the same N at one commit (seeds "
            "k*N..(k+1)*N-1, plain `pytest` runs) and run this again: it then uses their mean and SD."
        )
    if not shown and test:
        return [f"no baselined test matches --test {test!r}"]
    if not shown:
        return [
            "no baselines to suggest thresholds from: run `pytest --update-refs` first (thresholds may be None "
            "until then: the drift gate alone checks, and the values are recorded)"
        ]
    return lines


def merged_baselines(store) -> dict:
    """node id -> key -> lane -> entry, over every baseline file of the store."""
    merged: dict = {}
    for test_file in store.baseline_files():
        merged.update(store.read_baselines(test_file))
    return merged
