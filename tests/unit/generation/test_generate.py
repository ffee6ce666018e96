"""Fixed-seed generation through make_generate: seeding, adapters, prompts, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from pytest_genquality.batch import ImageBatch
from pytest_genquality.generation.engine import expand_prompts, make_generate, seed_generators
from tiny_models import tiny_ddim_pipeline, tiny_ddpm_pipeline, tiny_stable_diffusion_pipeline

STEPS = 2
PROMPTS = [
    "a red bicycle",
    "a bowl of ramen",
    "the sea at night",
    "a cat",
    "two dogs",
    "a tree",
    "an old car",
    "the moon",
]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def generate():
    return make_generate(CPU)


@pytest.fixture(scope="module")
def ddpm():
    return tiny_ddpm_pipeline(seed=0)


@pytest.fixture(scope="module")
def ddim():
    return tiny_ddim_pipeline(seed=0)


@pytest.fixture(scope="module")
def t2i(tmp_path_factory):
    return tiny_stable_diffusion_pipeline(tmp_path_factory.mktemp("tokenizer"), seed=0)


@pytest.fixture(params=["ddpm", "ddim", "t2i"])
def pipeline_case(request):
    """(pipeline, prompts for seeds 0..7 or None)."""
    pipe = request.getfixturevalue(request.param)
    return pipe, (PROMPTS if request.param == "t2i" else None)


def noise_callable(seeds, prompts, device, size=8):
    """A sampler whose output *is* its per-seed noise: exactness needs no kernel at all."""
    noise = torch.cat([torch.randn(1, 3, size, size, generator=g) for g in seed_generators(seeds)])
    return torch.tanh(noise).to(device)


def assert_same_up_to_kernel_roundoff(a: torch.Tensor, b: torch.Tensor) -> None:
    """At most one uint8 level, on under 1% of pixels (see generate.py's docstring)."""
    difference = (a.int() - b.int()).abs()
    assert difference.max() <= 1, f"max pixel difference {int(difference.max())}"
    assert (difference > 0).float().mean() < 0.01


def test_same_request_twice_gives_identical_pixels(generate, pipeline_case):
    pipe, prompts = pipeline_case
    first = generate(pipe, prompts=prompts, seeds=range(8), num_inference_steps=STEPS)
    second = generate(pipe, prompts=prompts, seeds=range(8), num_inference_steps=STEPS)
    assert torch.equal(first.images, second.images)
    assert first.images.shape == (8, 3, 32, 32)
    assert first.images.float().std() > 10, "the tiny pipeline should make non-constant images"


def test_image_does_not_depend_on_batching_or_other_seeds(generate, pipeline_case):
    pipe, prompts = pipeline_case
    whole = generate(pipe, prompts=prompts, seeds=range(8), batch_size=8, num_inference_steps=STEPS)
    in_threes = generate(pipe, prompts=prompts, seeds=range(8), batch_size=3, num_inference_steps=STEPS)
    tail = generate(pipe, prompts=prompts[4:] if prompts else None, seeds=range(4, 8), num_inference_steps=STEPS)
    assert_same_up_to_kernel_roundoff(whole.images, in_threes.images)
    assert_same_up_to_kernel_roundoff(whole.images[4:], tail.images)
    assert whole.seeds == list(range(8)) and tail.seeds == [4, 5, 6, 7]


def test_a_single_shared_generator_fails_the_batching_check(ddpm):
    """The classic mistake, shown to fail the same check: the tolerance above is not vacuous."""
    ddpm.set_progress_bar_config(disable=True)
    shared = ddpm(batch_size=8, generator=torch.Generator().manual_seed(0), num_inference_steps=STEPS, output_type="np")
    tail = ddpm(batch_size=4, generator=torch.Generator().manual_seed(0), num_inference_steps=STEPS, output_type="np")
    whole = ImageBatch.from_any(shared.images, (0, 1)).images
    with pytest.raises(AssertionError):
        assert_same_up_to_kernel_roundoff(whole[4:], ImageBatch.from_any(tail.images, (0, 1)).images)


def test_pipeline_noise_is_bitwise_independent_of_batching(generate, ddpm):
    """The first UNet input of every image is exactly its own seed's noise."""
    first_inputs = []
    hook = ddpm.unet.register_forward_pre_hook(lambda module, args: first_inputs.append(args[0].clone()))
    try:
        generate(ddpm, seeds=range(6), batch_size=6, num_inference_steps=1)
        generate(ddpm, seeds=[3, 4, 5], batch_size=2, num_inference_steps=1)
    finally:
        hook.remove()
    whole, tail = first_inputs[0], torch.cat(first_inputs[1:])
    assert torch.equal(whole[3:], tail)
    assert torch.equal(whole[5:6], torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(5)))


def test_callable_adapter_is_exactly_batch_independent(generate):
    whole = generate(noise_callable, seeds=range(8), batch_size=8, value_range=(-1, 1))
    in_threes = generate(noise_callable, seeds=range(8), batch_size=3, value_range=(-1, 1))
    tail = generate(noise_callable, seeds=range(4, 8), value_range=(-1, 1))
    assert torch.equal(whole.images, in_threes.images)
    assert torch.equal(whole.images[4:], tail.images)
    expected = ((torch.tanh(torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))) + 1) / 2 * 255).round()
    assert torch.equal(whole.images[2:3], expected.to(torch.uint8))


def test_meta_names_fingerprint_kwargs_lane_and_adapter(generate, ddpm):
    batch = generate(ddpm, seeds=range(2), num_inference_steps=STEPS)
    assert set(batch.meta) >= {"model_fingerprint", "kwargs", "lane", "generator", "cached"}
    assert re.fullmatch(r"[0-9a-f]{64}", batch.meta["model_fingerprint"])
    assert batch.meta["kwargs"] == {"num_inference_steps": STEPS}
    assert batch.meta["lane"] == f"cpu/cpu/fp32/torch-{torch.__version__.split('+')[0]}"
    assert batch.meta["generator"] == "diffusers:DDPMPipeline"
    assert batch.meta["cached"] is False


def test_make_generate_switches_determinism_on():
    torch.use_deterministic_algorithms(False)
    make_generate(CPU)
    assert torch.are_deterministic_algorithms_enabled()


def test_pt_output_matches_np_output(generate, t2i):
    as_np = generate(t2i, prompts=PROMPTS[:2], seeds=[0, 1], num_inference_steps=STEPS)
    as_pt = generate(t2i, prompts=PROMPTS[:2], seeds=[0, 1], num_inference_steps=STEPS, output_type="pt")
    assert torch.equal(as_np.images, as_pt.images)


def test_prompts_one_per_seed_or_cycled():
    assert expand_prompts(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert expand_prompts(["a", "b"], 6) == ["a", "b", "a", "b", "a", "b"]
    assert expand_prompts(None, 4) is None
    with pytest.raises(ValueError, match=r"2 prompts for 5 seeds.*multiple of 2"):
        expand_prompts(["a", "b"], 5)
    with pytest.raises(TypeError, match=r"single string"):
        expand_prompts("a cat", 2)
    with pytest.raises(TypeError, match=r"expected strings"):
        expand_prompts(["a", 3], 2)


def test_cycled_prompts_reach_the_pipeline(generate, t2i):
    cycled = generate(t2i, prompts=PROMPTS[:2], seeds=range(4), num_inference_steps=STEPS)
    explicit = generate(t2i, prompts=PROMPTS[:2] * 2, seeds=range(4), num_inference_steps=STEPS)
    assert cycled.prompts == PROMPTS[:2] * 2
    assert torch.equal(cycled.images, explicit.images)


def test_prompt_changes_the_image(generate, t2i):
    one = generate(t2i, prompts=["a cat"], seeds=[0], num_inference_steps=STEPS)
    other = generate(t2i, prompts=["a completely different prompt"], seeds=[0], num_inference_steps=STEPS)
    assert not torch.equal(one.images, other.images)


def test_prompts_must_suit_the_pipeline(generate, ddpm, t2i):
    with pytest.raises(ValueError, match=r"StableDiffusionPipeline is a text-to-image pipeline: pass prompts"):
        generate(t2i, seeds=[0], num_inference_steps=STEPS)
    with pytest.raises(ValueError, match=r"DDPMPipeline is unconditional"):
        generate(ddpm, prompts=["a cat"], seeds=[0], num_inference_steps=STEPS)


def test_callable_receives_seeds_prompts_device_and_kwargs(generate):
    calls = []

    def sampler(seeds, prompts, device, *, size):
        calls.append((seeds, prompts, device, size))
        return np.zeros((len(seeds), size, size, 3), dtype=np.uint8)

    batch = generate(sampler, prompts=["x", "y"], seeds=[5, 6, 7, 8], batch_size=3, size=4)
    assert calls == [([5, 6, 7], ["x", "y", "x"], CPU, 4), ([8], ["y"], CPU, 4)]
    assert batch.prompts == ["x", "y", "x", "y"] and batch.seeds == [5, 6, 7, 8]
    assert batch.meta["generator"].endswith("sampler")


def test_callable_may_return_an_image_batch_or_pil(generate):
    def as_batch(seeds, prompts, device):
        return ImageBatch(torch.full((len(seeds), 3, 4, 4), 0.5), value_range=(0, 1), seeds=seeds)

    def as_pil(seeds, prompts, device):
        return ImageBatch(torch.full((len(seeds), 3, 4, 4), 7, dtype=torch.uint8)).to_pil()

    assert int(generate(as_batch, seeds=[1, 2]).images.max()) == 128
    assert int(generate(as_pil, seeds=[1, 2]).images.max()) == 7


@pytest.mark.parametrize(
    "output, error, message",
    [
        (lambda n: torch.full((n, 3, 4, 4), float("nan")), ValueError, r"NaN"),
        (lambda n: torch.rand(n + 1, 3, 4, 4), ValueError, r"seeds: got 2 seeds for 3 images"),
        (lambda n: torch.rand(n, 4, 4), ValueError, r"expected 1 \(grayscale\), 3 \(RGB\) or 4 \(RGBA\) channels"),
        (lambda n: torch.rand(n, 3, 4, 4) * 2, ValueError, r"outside value_range"),
        (lambda n: "not images", TypeError, r"expected a tensor"),
    ],
)
def test_bad_callable_output_is_a_clear_error_naming_the_adapter(generate, output, error, message):
    def broken_sampler(seeds, prompts, device):
        return output(len(seeds))

    with pytest.raises(error, match=message) as info:
        generate(broken_sampler, seeds=[3, 4], value_range=(0, 1))
    assert "callable:test_generate" in str(info.value) and "broken_sampler (seeds 3..4)" in str(info.value)


def test_float_output_without_a_range_says_how_to_give_one(generate):
    with pytest.raises(ValueError, match=r"value_range"):
        generate(noise_callable, seeds=[0])


def test_value_range_is_refused_for_pipelines(generate, ddpm):
    with pytest.raises(TypeError, match=r"value_range applies to callables only"):
        generate(ddpm, seeds=[0], num_inference_steps=STEPS, value_range=(-1, 1))


def test_unknown_models_say_how_to_wrap_them(generate, ddpm):
    with pytest.raises(TypeError, match=r"bare UNet2DModel.*wrap your sampler as a callable") as info:
        generate(ddpm.unet, seeds=[0])
    assert "fn(seeds, prompts, device)" in str(info.value)
    with pytest.raises(TypeError, match=r"DiffusionPipeline or a callable"):
        generate("CompVis/stable-diffusion-v1-4", seeds=[0])


def test_callable_with_the_wrong_signature_is_named(generate):
    def sampler(n):
        return torch.zeros(n, 3, 4, 4, dtype=torch.uint8)

    with pytest.raises(TypeError, match=r"fn\(seeds, prompts, device, \*\*model_kwargs\)"):
        generate(sampler, seeds=[0])


def test_sampler_module_with_seeds_forward_is_accepted(generate):
    class Sampler(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, seeds, prompts, device):
            return self.scale.detach().expand(len(seeds), 3, 4, 4)

    batch = generate(Sampler(), seeds=[0, 1], value_range=(0, 1))
    assert batch.images.shape == (2, 3, 4, 4) and int(batch.images[0, 0, 0, 0]) == 128


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seeds": [0], "generator": torch.Generator()}, TypeError, r"one generator per image"),
        ({"seeds": [0], "prompt": "a cat"}, TypeError, r"prompts="),
        ({"seeds": []}, ValueError, r"no seeds"),
        ({"seeds": "0123"}, TypeError, r"iterable of ints"),
        ({"seeds": [0.5]}, TypeError, r"expected ints"),
        ({"seeds": [-1]}, ValueError, r"0..2\*\*63-1"),
        ({"seeds": [0], "batch_size": 0}, ValueError, r"batch_size"),
    ],
)
def test_argument_errors(generate, kwargs, error, message):
    with pytest.raises(error, match=message):
        generate(noise_callable, value_range=(-1, 1), **kwargs)


def test_meta_records_seconds_per_image_and_no_cpu_peak_memory(monkeypatch):
    """A fake clock advanced only by the model calls: the timing covers them and divides by the image count."""
    import types

    from pytest_genquality.generation import engine

    clock = [100.0]
    monkeypatch.setattr(engine, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def sample(seeds, prompts, device):
        clock[0] += 0.5
        return torch.zeros(len(seeds), 3, 8, 8, dtype=torch.uint8)

    batch = make_generate(CPU)(sample, seeds=range(6), batch_size=4)
    assert batch.meta["seconds_per_image"] == pytest.approx(1.0 / 6)
    assert batch.meta["peak_memory_bytes"] is None  # CPU: not measured, by decision (generation/efficiency.py)


def test_a_cached_batch_records_no_timing(tmp_path):
    def sample(seeds, prompts, device):
        return torch.zeros(len(seeds), 3, 8, 8, dtype=torch.uint8)

    make_generate(CPU, cache_dir=tmp_path)(sample, seeds=range(3))
    cached = make_generate(CPU, cache_dir=tmp_path)(sample, seeds=range(3))
    assert cached.meta["cached"] is True and cached.meta["seconds_per_image"] is None
