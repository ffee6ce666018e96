"""Peak device memory of a block of work (the ``generate`` fixture wraps each batch in it).

Peak memory is deterministic for a given lane and batch on CUDA (the caching allocator's peak of
live tensors), so it needs no noise model: it is gated on an absolute bar. It reads torch's
allocator, so it lives here with the devices, not in the pure ``metrics`` package.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator


@dataclass
class PeakMemory:
    """Peak device memory of the work done inside ``peak_device_memory``, in bytes.

    bytes: the peak of all memory allocated by tensors on the device during the block (weights
    already resident included), ``torch.cuda.max_memory_allocated``; None where no trustworthy
    per-block peak exists (CPU, MPS). increase: that peak minus what was allocated when the block
    began (the batch's own working memory), or None.
    """

    device: str
    bytes: int | None = None
    increase: int | None = None


@contextlib.contextmanager
def peak_device_memory(device) -> Iterator[PeakMemory]:
    """Measure the peak device memory of a block: ``with peak_device_memory("cuda") as peak: ...``.

    CUDA: synchronise, reset the caching allocator's peak statistics, run the block, synchronise,
    read ``max_memory_allocated`` (tensors' bytes; the allocator's reserved-but-free cache is not
    counted, as it depends on history, not on the batch).
    CPU and MPS: ``bytes`` stays None, by decision: tracemalloc does not see torch's CPU allocator,
    and the process's peak RSS (``ru_maxrss``) can never be reset, so a block would inherit the
    peak of everything before it; a None is recorded as "not measured" rather than a wrong number.
    """
    import torch

    device = torch.device(device)
    peak = PeakMemory(str(device))
    if device.type != "cuda":
        yield peak
        return
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    allocated_before = int(torch.cuda.memory_allocated(device))
    yield peak
    torch.cuda.synchronize(device)
    peak.bytes = int(torch.cuda.max_memory_allocated(device))
    peak.increase = peak.bytes - allocated_before
