"""Fixed-seed generation: the engine behind the ``generate`` fixture.

The one rule that makes generated-image metrics comparable across runs: **image i is a
function of (model, seed i, prompt i, kwargs) only.** Each image gets its own CPU
``torch.Generator`` seeded with its seed, so the batch size, the number of images and the
other seeds never change it (one generator for a whole batch, the classic mistake, makes
image 5 depend on whether images 0..4 were generated in the same call). CPU generators also
make the noise identical whatever ``--gen-device`` is; diffusers' ``randn_tensor`` draws the
noise on the CPU and moves it to the model's device.

What is exact and what is not: each image's *noise* is bit-identical whatever the batching.
The *pixels* are identical for an identical request, but across batch sizes they can differ by
one uint8 level on a few pixels, because CPU and GPU matrix kernels choose a different
blocking (so a different float summation order) for a different batch size (about 1e-6
relative in a tiny UNet's first Linear). That is kernel round-off, not a seeding dependence;
the cache key therefore includes ``batch_size``, so a cached batch is always exactly what a
fresh generation of the same request would give.

Adapters (chosen by what ``model`` is):

- a diffusers ``DiffusionPipeline``: unconditional ones (``DDPMPipeline``, ``DDIMPipeline``:
  ``__call__`` takes ``batch_size``) get no prompts; text-to-image ones (``__call__`` takes
  ``prompt``) require them. The pipeline is moved to the device (and cast to ``dtype`` when
  ``make_generate`` was given one), called with ``generator=[one per image]`` and
  ``output_type="np"``; its [0, 1] floats become uint8.
- any callable ``fn(seeds: list[int], prompts: list[str] | None, device, **model_kwargs)``
  returning PIL images, numpy NHWC, torch NCHW or an ``ImageBatch``. Float outputs need their
  range: pass ``value_range=(0, 1)`` or ``(-1, 1)`` to ``generate``, or return an
  ``ImageBatch`` built with it. The callable owns its randomness; ``seed_generators(seeds)``
  gives it the same one-generator-per-image noise the diffusers adapter uses.

Prompts: one per seed (image i gets prompt i), or a shorter list whose length divides the
number of seeds, cycled (image i gets ``prompts[i % len(prompts)]``). Cycling keeps every
prompt equally represented and lets the first k·len(prompts) seeds of a long run cover all
prompts. ``seeds=range(256)`` with 8 prompts gives each prompt 32 images.

Efficiency: every fresh generation records in ``batch.meta`` its ``seconds_per_image`` (wall
seconds of this process's model calls, the device synchronised at the end, over the images it
generated) and ``peak_memory_bytes`` (``efficiency.peak_device_memory``: the CUDA allocator's peak
during the calls; None on CPU and MPS). A batch served from ``--gen-cache`` has both None: nothing
was run.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from .. import distributed
from ..batch import ImageBatch, SeedGrowth
from ..distributed import World
from .device import enable_determinism, lane
from .efficiency import peak_device_memory
from .cache import ImageCache, UnhashableModelError, canonical, cache_key, is_diffusion_pipeline, model_fingerprint
from .progress import ProgressSink, progress_bar

RESERVED_KWARGS = {
    "generator": "generate() makes one generator per image from seeds=; pass seeds instead",
    "prompt": "pass prompts=[...] (a list, one per seed or cycled)",
    "batch_size": "batch_size is generate()'s own argument (images per model call)",
    "latents": "latents fix the noise of a whole batch; generate() derives each image's noise from its seed",
    "num_images_per_prompt": "generate() makes one image per (seed, prompt); repeat prompts or add seeds instead",
    "return_dict": "generate() reads the pipeline's output itself",
}
PIPELINE_OUTPUT_TYPES = ("np", "pt", "pil")


def seed_generators(seeds: Iterable[int]) -> list[torch.Generator]:
    """One CPU ``torch.Generator`` per image, seeded with that image's seed."""
    return [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]


def _check_seeds(seeds: Any) -> list[int]:
    if seeds is None or isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds: expected an iterable of ints such as range(64), got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: got no seeds; expected at least one (e.g. seeds=range(64))")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seeds: expected ints, got {seed!r} ({type(seed).__name__})")
        if not 0 <= int(seed) < 2**63:
            raise ValueError(f"seeds: expected integers in 0..2**63-1, got {int(seed)}")
    return [int(seed) for seed in seeds]


def expand_prompts(prompts: Sequence[str] | None, count: int) -> list[str] | None:
    """One prompt per image: the list as is, or cycled when its length divides ``count``."""
    if prompts is None:
        return None
    if isinstance(prompts, str):
        raise TypeError(
            f"prompts: expected a list of strings, got the single string {prompts!r}; write prompts=[{prompts!r}]"
        )
    prompts = list(prompts)
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise TypeError(f"prompts: expected strings, got {prompt!r} ({type(prompt).__name__})")
    if not prompts:
        raise ValueError("prompts: got an empty list; pass None for an unconditional model")
    if count % len(prompts):
        raise ValueError(
            f"prompts: got {len(prompts)} prompts for {count} seeds; pass one prompt per seed, or a number "
            f"of seeds that is a multiple of {len(prompts)} (each prompt then gets {count // len(prompts) + 1} "
            f"seeds with {(count // len(prompts) + 1) * len(prompts)} seeds)"
        )
    return [prompts[i % len(prompts)] for i in range(count)]


def _check_kwargs(model_kwargs: dict) -> None:
    for name, why in RESERVED_KWARGS.items():
        if name in model_kwargs:
            raise TypeError(f"generate(): unexpected keyword {name!r}: {why}")


def _module_dtype(modules: Iterable[torch.nn.Module]) -> torch.dtype | None:
    for module in modules:
        for tensor in module.parameters():
            if tensor.is_floating_point():
                return tensor.dtype
    return None


class DiffusersAdapter:
    """Drives a diffusers ``DiffusionPipeline`` with one generator per image."""

    def __init__(self, pipe: Any):
        self.pipe = pipe
        parameters = inspect.signature(pipe.__call__).parameters
        self.takes_prompts = "prompt" in parameters
        if not self.takes_prompts and "batch_size" not in parameters:
            raise TypeError(
                f"{type(pipe).__name__}: its __call__ takes neither `prompt` (text-to-image) nor `batch_size` "
                "(unconditional), so generate() cannot drive it; wrap it as a callable "
                "fn(seeds, prompts, device) -> images (see pytest_genquality.generate.seed_generators)"
            )
        self.name = f"diffusers:{type(pipe).__name__}"

    def prepare(self, device: torch.device, dtype: torch.dtype | None) -> None:
        """Move (and optionally cast) the pipeline; a no-op when it is already there."""
        if dtype is not None and self.pipe.dtype != dtype:
            self.pipe.to(device, dtype)
        elif self.pipe.device != device:
            self.pipe.to(device)

    @property
    def dtype(self) -> torch.dtype:
        return self.pipe.dtype

    def fingerprint(self) -> str:
        return model_fingerprint(self.pipe)

    def check_prompts(self, prompts: list[str] | None) -> None:
        if self.takes_prompts and prompts is None:
            raise ValueError(f"{self.name} is a text-to-image pipeline: pass prompts=[...]")
        if not self.takes_prompts and prompts is not None:
            raise ValueError(f"{self.name} is unconditional (it takes no prompt): drop prompts=")

    def run(
        self,
        seeds: list[int],
        prompts: list[str] | None,
        device: torch.device,
        model_kwargs: dict,
        value_range: tuple | None,
    ) -> Any:
        if value_range is not None:
            raise TypeError(f"value_range applies to callables only; {self.name} returns images in [0, 1]")
        output_type = model_kwargs.pop("output_type", "np")
        if output_type not in PIPELINE_OUTPUT_TYPES:
            raise ValueError(
                f"output_type: generate() reads {PIPELINE_OUTPUT_TYPES} from {self.name}, got {output_type!r}"
            )
        inputs = {"prompt": prompts} if self.takes_prompts else {"batch_size": len(seeds)}
        saved = dict(getattr(self.pipe, "_progress_bar_config", {}))
        self.pipe.set_progress_bar_config(disable=True)  # generate() draws one bar for the whole run
        try:
            with torch.inference_mode():
                output = self.pipe(
                    **inputs,
                    generator=seed_generators(seeds),
                    output_type=output_type,
                    return_dict=True,
                    **model_kwargs,
                )
        finally:
            self.pipe._progress_bar_config = saved
        return output.images, (0, 1)


class CallableAdapter:
    """Calls ``fn(seeds, prompts, device, **model_kwargs)``; the callable owns its randomness."""

    def __init__(self, fn: Callable):
        self.fn = fn
        qualname = getattr(fn, "__qualname__", type(fn).__qualname__)
        self.name = f"callable:{getattr(fn, '__module__', type(fn).__module__)}.{qualname}"
        self.dtype_hint: torch.dtype | None = None

    def prepare(self, device: torch.device, dtype: torch.dtype | None) -> None:
        self.dtype_hint = dtype

    @property
    def dtype(self) -> torch.dtype:
        held = (
            [value for value in vars(self.fn).values() if isinstance(value, torch.nn.Module)]
            if hasattr(self.fn, "__dict__")
            else []
        )
        if isinstance(self.fn, torch.nn.Module):
            held.insert(0, self.fn)
        return self.dtype_hint or _module_dtype(held) or torch.float32

    def fingerprint(self) -> str:
        return model_fingerprint(self.fn)

    def check_prompts(self, prompts: list[str] | None) -> None:
        """A callable decides itself whether prompts matter."""

    def check_signature(self, model_kwargs: dict) -> None:
        try:
            inspect.signature(self.fn).bind([0], None, torch.device("cpu"), **model_kwargs)
        except TypeError as error:
            raise TypeError(
                f"{self.name}: generate() calls it as fn(seeds, prompts, device, **model_kwargs) with model_kwargs "
                f"{sorted(model_kwargs)}; its signature {inspect.signature(self.fn)} does not accept that ({error})"
            ) from None
        except ValueError:  # builtins without a signature: let the call decide
            pass

    def run(
        self,
        seeds: list[int],
        prompts: list[str] | None,
        device: torch.device,
        model_kwargs: dict,
        value_range: tuple | None,
    ) -> Any:
        output = self.fn(list(seeds), list(prompts) if prompts is not None else None, device, **model_kwargs)
        if isinstance(output, ImageBatch):
            if output.seeds is not None and output.seeds != list(seeds):
                raise ValueError(
                    f"{self.name} returned an ImageBatch with seeds {output.seeds}, asked for {list(seeds)}"
                )
            return output.images, None
        return output, value_range


def _takes_seeds(module: torch.nn.Module) -> bool:
    """An nn.Module written as a sampler: ``forward(seeds, prompts, device)``."""
    try:
        names = list(inspect.signature(module.forward).parameters)
    except (TypeError, ValueError):
        return False
    return names[:3] == ["seeds", "prompts", "device"]


def adapter_for(model: Any):
    """The adapter that knows how to drive ``model``, or a TypeError saying how to wrap it."""
    if is_diffusion_pipeline(model):
        return DiffusersAdapter(model)
    if isinstance(model, torch.nn.Module) and not _takes_seeds(model):
        raise TypeError(
            f"generate() got a bare {type(model).__name__} (an nn.Module): it does not know how to sample from it. "
            "Pass a diffusers DiffusionPipeline, or wrap your sampler as a callable "
            "fn(seeds, prompts, device) -> images, e.g.\n"
            "    def sample(seeds, prompts, device):\n"
            "        noise = torch.cat([torch.randn(1, 3, 64, 64, generator=g) for g in seed_generators(seeds)])\n"
            "        return my_sampler(model, noise.to(device))   # floats in [-1, 1]\n"
            "    batch = generate(sample, seeds=range(64), value_range=(-1, 1))"
        )
    if callable(model):
        return CallableAdapter(model)
    raise TypeError(
        f"generate(): model must be a diffusers DiffusionPipeline or a callable fn(seeds, prompts, device) -> images, "
        f"got {type(model).__name__}"
    )


def _to_uint8_batch(adapter, images: Any, value_range: tuple | None, seeds: list[int]) -> torch.Tensor:
    """Convert one model call's output, naming the adapter and the seeds in any error."""
    try:
        batch = ImageBatch.from_any(images, value_range, seeds=seeds)
    except (ValueError, TypeError) as error:
        shown = f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
        raise type(error)(f"{adapter.name} (seeds {shown}) returned unusable images: {error}") from error
    return batch.images


def _chunks(count: int, batch_size: int) -> list[slice]:
    return [slice(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]


def _check_max_seeds(max_seeds: Any, seeds: list[int]) -> int | None:
    """``max_seeds``: None, or an int >= len(seeds) for seeds that form one ascending range."""
    if max_seeds is None:
        return None
    if isinstance(max_seeds, bool) or not isinstance(max_seeds, (int, np.integer)) or max_seeds < len(seeds):
        raise ValueError(f"max_seeds: expected an int >= the {len(seeds)} seeds asked for, got {max_seeds!r}")
    if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
        raise ValueError(
            "max_seeds: the batch grows by the seeds after the last one, so seeds must be one ascending "
            f"range such as range({seeds[0]}, {seeds[0] + len(seeds)}); got {seeds[:4]}..."
        )
    if seeds[0] + int(max_seeds) > 2**63:
        raise ValueError(f"max_seeds: seeds {seeds[0]}..{seeds[0] + int(max_seeds) - 1} run past 2**63-1")
    return int(max_seeds)


def make_generate(
    device: torch.device,
    *,
    cache_dir=None,
    show_progress: bool = False,
    progress_sink: ProgressSink | None = None,
    dtype: torch.dtype | None = None,
    world: World | None = None,
    max_seeds_factor: int | None = None,
) -> Callable[..., ImageBatch]:
    """Build the ``generate`` callable of the fixture.

    device: where models run. cache_dir: directory of the image cache (``--gen-cache``), or
    None for no cache. show_progress: show progress of generations over ~2 s, on
    ``progress_sink`` (the plugin's: pytest's terminal; default stderr).
    dtype: cast pipelines to it (None keeps the model's dtype); the lane records it.
    world: the torchrun job this process belongs to (None or a world of one: no sharding).
    Under torchrun every rank calls ``generate`` with the same arguments; the model calls
    (batches of ``batch_size`` seeds) are dealt round-robin over the ranks, and the uint8
    images are gathered so that every rank returns the whole batch in seed order. Each model
    call gets the same seeds as in one process, so the images are the same bits.
    max_seeds_factor: ``--gen-max-n=Kx``: a batch generated without ``max_seeds`` may grow to K
    times its seeds.

    ``generate(..., max_seeds=M)`` returns the first N seeds as asked, and a batch that can grow
    to M seeds (``ImageBatch.growth``): block k is the same call on seeds N*k .. N*(k+1)-1 after
    the first, generated only when the drift gate needs it (and under ``--update-refs``, whose
    baseline keeps all M).
    """
    device = torch.device(device)
    world = world or World()
    enable_determinism()
    cache = ImageCache(cache_dir) if cache_dir is not None else None

    def generate(
        model: Any,
        *,
        prompts: Sequence[str] | None = None,
        seeds: Iterable[int],
        batch_size: int = 8,
        value_range: tuple[float, float] | None = None,
        max_seeds: int | None = None,
        **model_kwargs: Any,
    ) -> ImageBatch:
        """Generate one image per seed (and prompt) with ``model``; see the module docstring."""
        seeds = _check_seeds(seeds)
        if (
            max_seeds is None
            and max_seeds_factor is not None
            and max_seeds_factor > 1
            and seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        ):
            max_seeds = max_seeds_factor * len(seeds)
        max_seeds = _check_max_seeds(max_seeds, seeds)
        batch = _generate_seeds(
            model, prompts=prompts, seeds=seeds, batch_size=batch_size, value_range=value_range, **model_kwargs
        )
        if max_seeds is None or max_seeds == len(seeds):
            return batch
        user_prompts = None if prompts is None else list(prompts)

        def make_block(block_seeds: list[int]) -> ImageBatch:
            offset = block_seeds[0] - seeds[0]
            block_prompts = (
                None
                if user_prompts is None
                else [user_prompts[(offset + i) % len(user_prompts)] for i in range(len(block_seeds))]
            )
            return _generate_seeds(
                model,
                prompts=block_prompts,
                seeds=block_seeds,
                batch_size=batch_size,
                value_range=value_range,
                **model_kwargs,
            )

        growth = SeedGrowth(range(seeds[0], seeds[0] + max_seeds), len(seeds), make_block)
        return ImageBatch(batch.images, seeds=batch.seeds, prompts=batch.prompts, meta=batch.meta, growth=growth)

    def _generate_seeds(
        model: Any,
        *,
        prompts: Sequence[str] | None,
        seeds: list[int],
        batch_size: int,
        value_range: tuple[float, float] | None,
        **model_kwargs: Any,
    ) -> ImageBatch:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        _check_kwargs(model_kwargs)
        adapter = adapter_for(model)
        prompts = expand_prompts(prompts, len(seeds))
        adapter.check_prompts(prompts)
        if isinstance(adapter, CallableAdapter):
            adapter.check_signature(model_kwargs)
        adapter.prepare(device, dtype)

        run_lane = lane(device, adapter.dtype)
        try:
            fingerprint = adapter.fingerprint()
        except UnhashableModelError as error:
            if cache is not None:
                raise UnhashableModelError(f"--gen-cache: {adapter.name}: {error}; run without --gen-cache") from error
            fingerprint = None
        meta = {
            "model_fingerprint": fingerprint,
            "kwargs": canonical(model_kwargs),
            "lane": run_lane,
            "generator": adapter.name,
            "cached": False,
            "batch_size": batch_size,
            "seconds_per_image": None,
            "peak_memory_bytes": None,
        }
        if value_range is not None:
            meta["value_range"] = list(value_range)

        if cache is None:
            return _generate_uncached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta)
        key = cache_key(
            model_fingerprint=fingerprint,
            generator=adapter.name,
            seeds=seeds,
            prompts=prompts,
            kwargs={**model_kwargs, "value_range": value_range, "batch_size": batch_size},
            lane=run_lane,
        )
        if world.is_distributed:  # every rank takes part in the generation: no waiting on one another's lock
            return _generate_cached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta, key)
        with cache.computing(key):  # another process (xdist worker) generating this key: wait, then read it
            return _generate_cached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta, key)

    def _generate_cached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta, key) -> ImageBatch:
        hit = cache.get(key)
        if all(distributed.all_gather(world, hit is not None)):  # a hit only when every rank has it
            return ImageBatch(hit[0], seeds=seeds, prompts=prompts, meta={**meta, "cached": True})
        batch = _generate_uncached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta)
        if world.is_writer:
            cache.put(
                key, batch.images, {"generator": adapter.name, "lane": meta["lane"], "seeds": seeds, "prompts": prompts}
            )
        return batch

    def _generate_uncached(adapter, seeds, prompts, batch_size, model_kwargs, value_range, meta) -> ImageBatch:
        chunks = _chunks(len(seeds), batch_size)
        mine = distributed.my_share(len(chunks), world)
        parts: list[tuple[int, torch.Tensor]] = []
        error = None
        generated = sum(chunks[i].stop - chunks[i].start for i in mine)
        started = time.perf_counter()
        with (
            peak_device_memory(device) as peak,
            progress_bar(
                generated,
                desc=f"generate {adapter.name}",
                enabled=show_progress and world.is_writer,
                sink=progress_sink,
            ) as progress,
        ):
            for index in mine:
                chunk = chunks[index]
                chunk_prompts = prompts[chunk] if prompts is not None else None
                try:
                    images, chunk_range = adapter.run(
                        seeds[chunk], chunk_prompts, device, dict(model_kwargs), value_range
                    )
                    parts.append((index, _to_uint8_batch(adapter, images, chunk_range, seeds[chunk])))
                except Exception as failure:  # noqa: BLE001 - under torchrun the other ranks must hear of it
                    if not world.is_distributed:
                        raise
                    error = failure
                    break
                if progress is not None:
                    progress.advance(len(parts[-1][1]))
        if generated and error is None:  # peak_device_memory has synchronised the device on exit
            meta["seconds_per_image"] = (time.perf_counter() - started) / generated
            meta["peak_memory_bytes"] = peak.bytes
        if world.is_distributed:
            distributed.agree(world, error)
        shares = distributed.all_gather(world, parts) if world.is_distributed else [parts]
        ordered = distributed.in_original_order(shares)
        sizes = {tuple(part.shape[1:]) for part in ordered}
        if len(sizes) > 1:
            raise ValueError(f"{adapter.name} returned images of different sizes across batches: {sorted(sizes)}")
        return ImageBatch(torch.cat(ordered), seeds=seeds, prompts=prompts, meta=meta)

    return generate
