"""torch.distributed plumbing for runs launched by ``torchrun``: who am I, talk to the others.

One process per device is the unit of scale-out (docs/scaling.md). ``torchrun`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in each process's environment; a
plain ``python``/``pytest`` process has none of them and is a world of one, for which every
function here is a no-op and no process group is ever created (so nothing changes without
torchrun).

The group is ``gloo`` on CPU and ``cpu:gloo,cuda:nccl`` on GPUs: tensors on a GPU travel by
nccl, the small Python objects (moments, features, error messages, exit statuses) by gloo on
the CPU, where they already are. Every collective here is called by every rank in the same
order; a rank that fails still takes part (sending its error), so the others never hang and
all of them fail with the same message (``agree``).

Knows nothing about pytest or the store.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import Any, Sequence
from .errors import DistributedError  # noqa: F401  (0.2 import path)

DEFAULT_TIMEOUT_S = 1800  # how long a rank waits for the others in one collective (torch's own default)


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun job: ``rank`` of ``size`` (all nodes), ``local_rank`` on this node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    @property
    def is_writer(self) -> bool:
        """Rank 0 alone writes files (references, baselines, run files, reports)."""
        return self.rank == 0

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "World":
        """Read torchrun's variables; a process without them is a world of one."""
        environ = os.environ if environ is None else environ
        if "WORLD_SIZE" not in environ or "RANK" not in environ:
            return cls()
        try:
            rank, size = int(environ["RANK"]), int(environ["WORLD_SIZE"])
            local_rank = int(environ.get("LOCAL_RANK", rank))
        except ValueError:
            raise ValueError(
                f"RANK / WORLD_SIZE / LOCAL_RANK: expected integers as torchrun sets them, got "
                f"{environ.get('RANK')!r} / {environ.get('WORLD_SIZE')!r} / "
                f"{environ.get('LOCAL_RANK')!r}"
            ) from None
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"RANK={rank}, WORLD_SIZE={size}: expected 0 <= RANK < WORLD_SIZE")
        return cls(rank, size, local_rank)


def backend_for(device_type: str) -> str:
    """gloo on CPU; on GPUs nccl for tensors and gloo for the Python objects gathered on the CPU."""
    return "cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo"


def start(world: World, device_type: str = "cpu", *, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """Join the process group of a torchrun job; returns True when this call created it.

    A world of one, or a group that the caller's own code already started, is left as is.
    """
    if not world.is_distributed:
        return False
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    if device_type == "cuda":
        import torch

        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(
        backend=backend_for(device_type),
        rank=world.rank,
        world_size=world.size,
        timeout=_dt.timedelta(seconds=timeout_s),
    )
    return True


def stop(created: bool) -> None:
    """Leave the process group if ``start`` created it."""
    if not created:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _active(world: World) -> bool:
    if not world.is_distributed:
        return False
    import torch.distributed as dist

    if not dist.is_initialized():
        raise RuntimeError("torch.distributed: the process group is not started; call distributed.start(world) first")
    return True


def all_gather(world: World, value: Any) -> list:
    """Every rank's ``value`` (picklable), in rank order, on every rank."""
    if not _active(world):
        return [value]
    import torch.distributed as dist

    gathered: list = [None] * world.size
    dist.all_gather_object(gathered, value)
    return gathered


def gather_to_writer(world: World, value: Any) -> list | None:
    """Every rank's ``value`` in rank order on rank 0, None elsewhere (half the memory of ``all_gather``)."""
    if not _active(world):
        return [value]
    import torch.distributed as dist

    gathered: list | None = [None] * world.size if world.is_writer else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def agree(world: World, error: BaseException | str | None) -> None:
    """Collective: raise the same ``DistributedError`` on every rank when any rank failed.

    Each rank passes its own error (or None); the message of the lowest failing rank is raised
    everywhere, prefixed by that rank when the job has more than one. A world of one re-raises
    its own error unchanged.
    """
    if not world.is_distributed:
        if isinstance(error, BaseException):
            raise error
        if error is not None:
            raise DistributedError(str(error))
        return
    messages = all_gather(world, None if error is None else str(error) or type(error).__name__)
    for rank, message in enumerate(messages):
        if message is not None:
            raise DistributedError(f"rank {rank} of {world.size}: {message}")


def my_share(count: int, world: World) -> list[int]:
    """The work items (batches) of ``count`` this rank handles: item i goes to rank i mod size.

    The one round-robin deal of the package (generation, build-ref); ``in_original_order`` puts
    the gathered results back.
    """
    return list(range(world.rank, count, world.size))


def shard_indices(count: int, world: World, *, block: int = 1) -> list[int]:
    """The indices 0..count-1 this rank handles: blocks of ``block`` consecutive items, dealt round-robin.

    Dealing whole batches (``block`` = the batch size) gives each model or extractor call the
    same rows as in a single process, so the per-item results are bit-identical, not merely close.
    """
    if block < 1:
        raise ValueError(f"block: expected a positive int, got {block!r}")
    return [
        index for b in my_share(-(-count // block), world) for index in range(b * block, min((b + 1) * block, count))
    ]


def in_original_order(shares: Sequence[Sequence[tuple[int, Any]]]) -> list:
    """Merge per-rank lists of (index, item) into one list ordered by index."""
    return [item for _, item in sorted((pair for share in shares for pair in share), key=lambda pair: pair[0])]
