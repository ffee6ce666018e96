"""The reference build behind ``genquality build-ref``: files -> parallel decode -> features -> moments.

In one process, or sharded over the ranks of a ``torchrun`` job:

- the sorted entries are cut into batches of ``batch_size``, and batch b goes to rank
  b mod K, so every extractor call sees exactly the rows it would see in one process and the
  features are bit-identical, not merely close;
- each rank decodes its batches with DataLoader workers and accumulates float64 moments;
- after each batch the ranks add up their counts (one small all-reduce): rank 0's progress
  bar shows the global count, and a rank that failed stops every rank at the same step;
- at the end, rank 0 receives every rank's moments (merged in rank order with the exact
  parallel formula, so mu and sigma equal one process's to ~1e-15 relative) and kept
  features (put back in file order), and alone builds the ``ReferenceStats``.

Any failure, on any rank, raises ``DistributedError`` with the same message on every rank
(``distributed.agree``); in one process the original error is raised. Nothing here writes
files: the caller writes on rank 0 once every rank has agreed that the build succeeded.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .. import distributed
from ..distributed import World
from ..errors import GenQualityWarning
from .image_files import ImageFiles, image_batches
from .reference_stats import MAX_STORED_FEATURES, ReferenceStats, extractor_id_of, one_size
from ..metrics.validation import to_numpy
from ..stats import RunningMoments


def _sum_over_ranks(world: World, done: int, failed: bool) -> tuple[int, bool]:
    """Collective: images done at this step on all ranks, and whether any rank failed."""
    if not world.is_distributed:
        return done, failed
    import torch
    import torch.distributed as dist

    counts = torch.tensor([done, int(failed)], dtype=torch.int64)
    dist.all_reduce(counts)  # a CPU tensor: gloo, also in a cpu:gloo,cuda:nccl group
    return int(counts[0]), bool(counts[1])


def build_reference(
    source,
    extractor: Callable,
    *,
    batch_size: int = 64,
    workers: int = 0,
    pin_memory: bool = False,
    world: World = World(),
    name: str = "",
    keep_features: bool | None = None,
    feature: str = "pool",
    progress: Callable[[int], None] | None = None,
) -> ReferenceStats | None:
    """ReferenceStats of the images in ``source`` (folder, .zip, .tar, or an opened ``ImageFiles``) on rank 0;
    None on the other ranks.

    Every rank must call it with the same arguments. ``progress(k)`` (rank 0) gets the number
    of images done on all ranks. ``keep_features=None`` keeps the float32 features when the
    source holds at most 50 000 images.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    error: BaseException | None = None
    files = source if isinstance(source, ImageFiles) else None
    if files is None:
        try:
            files = ImageFiles.open(source)
        except (ValueError, OSError) as failure:
            error = failure
        distributed.agree(world, error)  # a missing folder fails every rank before any work

    count = len(files)
    keep = count <= MAX_STORED_FEATURES if keep_features is None else bool(keep_features)
    all_blocks = [range(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
    my_blocks = distributed.my_share(len(all_blocks), world)
    steps = -(-len(all_blocks) // world.size)

    moments: RunningMoments | None = None
    kept: list[tuple[int, np.ndarray]] = []  # (first file index, rows): put back in file order on rank 0
    sizes: set[tuple[int, int]] = set()  # (H, W) of the images seen: the reference records one size
    batches = image_batches(files, [all_blocks[b] for b in my_blocks], workers=workers, pin_memory=pin_memory)
    done = 0
    for step in range(steps):
        done_now = 0
        if error is None and step < len(my_blocks):
            try:
                for indices, images in next(batches):
                    sizes.add(tuple(int(side) for side in images.shape[-2:]))
                    rows = to_numpy(extractor(images)[feature])
                    if moments is None:
                        moments = RunningMoments(rows.shape[1])
                    moments.update(rows)
                    if keep:
                        kept.append((indices[0], rows.astype(np.float32)))
                    done_now += len(indices)
            except Exception as failure:  # noqa: BLE001 - any failure must reach the other ranks
                error = failure
        total_now, failed = _sum_over_ranks(world, done_now, error is not None)
        done += total_now
        if failed:
            break
        if progress is not None and world.is_writer:
            progress(done)
    batches.close()  # stops the DataLoader workers now, also after a failure
    distributed.agree(world, error)

    shares = distributed.gather_to_writer(world, (moments.state() if moments is not None else None, kept, sizes))
    stats, error = None, None
    if world.is_writer:
        try:
            stats = _merge(shares, keep, extractor, files.source, name)
        except (ValueError, np.linalg.LinAlgError) as failure:
            error = failure
    distributed.agree(world, error)
    return stats


def _merge(shares: list, keep: bool, extractor: Callable, source: str, name: str) -> ReferenceStats:
    states = [state for state, _, _ in shares if state is not None]
    merged = RunningMoments.from_state(states[0]) if states else None
    for state in states[1:]:
        merged.merge(RunningMoments.from_state(state))
    features = None
    if keep and merged is not None and merged.count >= 2:
        features = np.concatenate(distributed.in_original_order([rows for _, rows, _ in shares]))
    stats = ReferenceStats.from_moments(merged, extractor_id_of(extractor), source, features=features, name=name)
    stats.image_size = one_size(size for _, _, rank_sizes in shares for size in rank_sizes)
    warn_if_too_few(stats)
    return stats


class SmallReferenceWarning(GenQualityWarning):
    """Reference statistics from fewer images than feature dimensions: their covariance is singular."""


def warn_if_too_few(stats: ReferenceStats) -> None:
    """Warn when n <= d: sigma then has rank n - 1 < d, and FID against it is dominated by sampling error.

    Not an error: a small reference still serves the drift gate (a change against the same
    reference), and tests of the plugin use tiny ones on purpose.
    """
    if stats.n is None or stats.n > stats.dim:
        return
    import warnings

    label = f"reference {stats.name!r}" if stats.name else "reference statistics"
    warnings.warn(
        SmallReferenceWarning(
            f"{label}: n={stats.n} images for {stats.dim} feature dimensions, so its covariance is singular and "
            f"FID against it is mostly sampling error; FID needs more than {stats.dim} images for a full-rank "
            f"covariance and is usually measured on 10 000 or more"
        ),
        stacklevel=2,
    )
