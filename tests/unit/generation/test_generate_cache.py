"""Model fingerprints and the --gen-cache image cache: hits, misses, atomic concurrent writes."""

from __future__ import annotations

import functools
import threading
import weakref

import numpy as np
import pytest
import torch

from pytest_genquality.generation.engine import make_generate, seed_generators
from pytest_genquality.generation.cache import (
    CorruptCacheEntryError,
    ImageCache,
    UnhashableModelError,
    cache_key,
    model_fingerprint,
)
from tiny_models import tiny_ddpm_pipeline, tiny_stable_diffusion_pipeline

CPU = torch.device("cpu")
STEPS = 2


class CountingSampler:
    """A callable model holding weights, counting how often it really generates.

    The count lives in a class-level table, not an attribute: every instance attribute of a
    callable object is part of its fingerprint, so a counter attribute would make each call a
    miss (a documented limit of fingerprinting callables).
    """

    _calls: "weakref.WeakKeyDictionary[CountingSampler, int]" = weakref.WeakKeyDictionary()

    def __init__(self):
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 3)

    @property
    def calls(self) -> int:
        return CountingSampler._calls.get(self, 0)

    def __call__(self, seeds, prompts, device):
        CountingSampler._calls[self] = self.calls + 1
        noise = torch.cat([torch.randn(1, 8, 8, 4, generator=g) for g in seed_generators(seeds)])
        return torch.sigmoid(self.layer(noise)).permute(0, 3, 1, 2).detach()


def test_fingerprint_is_stable_and_sees_every_parameter_change():
    pipe = tiny_ddpm_pipeline(seed=0)
    before = model_fingerprint(pipe)
    assert model_fingerprint(pipe) == before
    assert model_fingerprint(tiny_ddpm_pipeline(seed=0)) == before
    with torch.no_grad():
        pipe.unet.conv_out.bias.data[0] += 1e-6  # through .data: torch's _version does not move
    assert model_fingerprint(pipe) != before


def test_fingerprint_sees_the_scheduler_config():
    from diffusers import DDIMScheduler

    pipe = tiny_ddpm_pipeline(seed=0)
    before = model_fingerprint(pipe)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    assert model_fingerprint(pipe) != before


def test_fingerprint_of_text_to_image_pipeline_covers_text_encoder(tmp_path):
    pipe = tiny_stable_diffusion_pipeline(tmp_path, seed=0)
    before = model_fingerprint(pipe)
    with torch.no_grad():
        next(p for n, p in pipe.text_encoder.named_parameters() if n.endswith("final_layer_norm.weight")).mul_(1.5)
    assert model_fingerprint(pipe) != before


def test_callable_fingerprint_covers_code_closure_defaults_and_held_modules():
    def make(scale):
        def sampler(seeds, prompts, device, offset=0.0):
            return torch.full((len(seeds), 3, 2, 2), scale + offset)

        return sampler

    assert model_fingerprint(make(0.5)) == model_fingerprint(make(0.5))
    assert model_fingerprint(make(0.5)) != model_fingerprint(make(0.25))
    assert model_fingerprint(lambda s, p, d: 1) != model_fingerprint(lambda s, p, d: 2)

    sampler = CountingSampler()
    before = model_fingerprint(sampler)
    with torch.no_grad():
        sampler.layer.weight[0, 0] += 1
    assert model_fingerprint(sampler) != before

    partial = functools.partial(make(0.5), offset=0.1)
    assert model_fingerprint(partial) != model_fingerprint(functools.partial(make(0.5), offset=0.2))


GLOBAL_WEIGHTS = torch.zeros(3)


def sampler_using_a_global(seeds, prompts, device):
    return GLOBAL_WEIGHTS.expand(len(seeds), 3, 1, 1)


def test_callable_fingerprint_covers_module_globals_it_names():
    before = model_fingerprint(sampler_using_a_global)
    GLOBAL_WEIGHTS[0] = 1.0
    try:
        assert model_fingerprint(sampler_using_a_global) != before
    finally:
        GLOBAL_WEIGHTS[0] = 0.0


def test_meta_tensors_cannot_be_fingerprinted():
    with torch.device("meta"):
        layer = torch.nn.Linear(2, 2)
    with pytest.raises(UnhashableModelError, match="meta"):
        model_fingerprint(layer)


def test_rerun_reads_the_cache_instead_of_generating(tmp_path):
    sampler = CountingSampler()
    first = make_generate(CPU, cache_dir=tmp_path)(sampler, seeds=range(6), batch_size=4, value_range=(0, 1))
    assert sampler.calls == 2 and first.meta["cached"] is False

    second = make_generate(CPU, cache_dir=tmp_path)(sampler, seeds=range(6), batch_size=4, value_range=(0, 1))
    assert sampler.calls == 2, "the second session must not generate"
    assert second.meta["cached"] is True
    assert torch.equal(first.images, second.images)
    assert second.seeds == list(range(6))
    not_generated = {"cached", "seconds_per_image", "peak_memory_bytes"}  # a cache hit times nothing
    assert {k: v for k, v in second.meta.items() if k not in not_generated} == {
        k: v for k, v in first.meta.items() if k not in not_generated
    }


def test_a_changed_parameter_seeds_or_kwargs_is_a_miss(tmp_path):
    sampler = CountingSampler()
    generate = make_generate(CPU, cache_dir=tmp_path)
    generate(sampler, seeds=range(4), value_range=(0, 1))
    generate(sampler, seeds=range(5), value_range=(0, 1))
    assert sampler.calls == 2
    generate(sampler, seeds=range(4), batch_size=2, value_range=(0, 1))
    assert sampler.calls == 4
    with torch.no_grad():
        sampler.layer.bias.data.add_(0.5)
    changed = generate(sampler, seeds=range(4), value_range=(0, 1))
    assert sampler.calls == 5 and changed.meta["cached"] is False


def test_pipeline_rerun_is_served_from_the_cache(tmp_path, monkeypatch):
    pipe = tiny_ddpm_pipeline(seed=1)
    first = make_generate(CPU, cache_dir=tmp_path)(pipe, seeds=range(3), num_inference_steps=STEPS)

    def must_not_run(self, batch_size=1, **kwargs):
        raise AssertionError("the pipeline ran although its images are cached")

    monkeypatch.setattr(type(pipe), "__call__", must_not_run)
    second = make_generate(CPU, cache_dir=tmp_path)(pipe, seeds=range(3), num_inference_steps=STEPS)
    assert second.meta["cached"] and torch.equal(first.images, second.images)
    with pytest.raises(AssertionError, match="although"):
        make_generate(CPU, cache_dir=tmp_path)(pipe, seeds=range(3), num_inference_steps=STEPS + 1)


def test_a_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path):
    sampler = CountingSampler()
    generate = make_generate(CPU, cache_dir=tmp_path)
    generate(sampler, seeds=[0, 1], value_range=(0, 1))
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    again = generate(sampler, seeds=[0, 1], value_range=(0, 1))
    assert sampler.calls == 2 and again.meta["cached"] is False
    assert generate(sampler, seeds=[0, 1], value_range=(0, 1)).meta["cached"] is True


def test_read_names_a_corrupt_file(tmp_path):
    cache = ImageCache(tmp_path)
    cache.path("k").write_bytes(b"not a zip")
    with pytest.raises(CorruptCacheEntryError, match=r"k\.npz: not a valid image cache entry"):
        cache.read("k")
    assert cache.get("k") is None and cache.read("absent") is None


def test_concurrent_writers_never_leave_a_torn_entry(tmp_path):
    """Two writers of one key and a reader: every read is absent or one writer's whole entry."""
    cache = ImageCache(tmp_path)
    key = cache_key(model_fingerprint="f", generator="g", seeds=[0], prompts=None, kwargs={}, lane="cpu")
    payloads = [torch.full((16, 3, 128, 128), value, dtype=torch.uint8) for value in (11, 200)]
    stop = threading.Event()
    seen, problems = [], []

    def write(images):
        for _ in range(15):
            cache.put(key, images, {"writer": int(images[0, 0, 0, 0])})

    def read():
        while not stop.is_set():
            try:
                entry = cache.read(key)
            except CorruptCacheEntryError as error:
                problems.append(error)
                continue
            if entry is not None:
                seen.append(int(entry[0][0, 0, 0, 0]))
                if not any(torch.equal(entry[0], p) for p in payloads):
                    problems.append("mixed entry")

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert not problems
    assert seen, "the reader should have seen at least one complete entry"
    assert not list(tmp_path.glob("*.tmp")), "temporary files must not be left behind"
    images, header = cache.read(key)
    assert header["writer"] in (11, 200) and header["count"] == 16


def test_cache_files_load_without_pickle(tmp_path):
    cache = ImageCache(tmp_path)
    cache.put("abc", torch.zeros(2, 3, 4, 4, dtype=torch.uint8), {"seeds": [0, 1]})
    with np.load(cache.path("abc"), allow_pickle=False) as entry:
        assert entry["images"].shape == (2, 3, 4, 4)


# ---- under --gen-cache, xdist workers share one generation (issue 22 item 11) -----------------------------------------
XDIST_PROJECT = """
import os
import pytest
import torch
from pytest_genquality import assert_metric

CALLS = os.path.join(os.path.dirname(__file__), "calls.txt")


def sampler(seeds, prompts, device):
    with open(CALLS, "a") as log:
        log.write(f"{os.environ.get('PYTEST_XDIST_WORKER')} {len(seeds)}\\n")
    return torch.stack([torch.full((3, 4, 4), seed, dtype=torch.uint8) for seed in seeds])


@pytest.fixture(scope="session")
def batch(generate):
    return generate(sampler, seeds=range(6), batch_size=3)


@pytest.mark.parametrize("case", range(4))
def test_uses_the_session_batch(batch, case):
    assert batch.images[:, 0, 0, 0].tolist() == list(range(6))
"""


def test_xdist_workers_with_gen_cache_generate_a_shared_session_batch_once(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(XDIST_PROJECT)
    result = pytester.runpytest_subprocess("-n", "2", "--gen-cache", "--gen-device=cpu", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    calls = (pytester.path / "calls.txt").read_text().splitlines()
    workers = {line.split()[0] for line in calls}
    assert sum(int(line.split()[1]) for line in calls) == 6 and len(workers) == 1, calls  # not 6 per worker
    assert list((pytester.path / ".genquality" / "cache" / "images").glob("*.npz"))
