"""Train the digits suite's two networks and build its reference statistics (not part of CI).

    python examples/digits_suite/train.py --threads 1   # everything
    python examples/digits_suite/train.py --only classifier

Measured on a 2-core machine shared with ~8 other jobs (load 10-16): the classifier and the
reference 226 s, the DDPM 1 973 s at one thread (3 000 steps, 0.2 s of CPU each); a quiet
2-core machine needs about a third of that.

Writes, next to this file:
  weights/classifier.safetensors      the domain feature extractor (digit_classifier.py)
  weights/ddim/                        the DDPM (UNet2DModel + DDIMScheduler), final EMA weights
  weights/ddim-undertrained/           the same run at step UNDERTRAINED_STEP: a realistic regression
and the reference statistics of the 500 held-out real digits (examples/.genquality/refs/digits-held-out)
and docs/digits_samples.png. Everything is seeded; the float round-off of CPU kernels still
depends on the number of threads, so use the same --threads to reproduce the files bit for bit.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from digit_classifier import WEIGHTS as CLASSIFIER_WEIGHTS, DigitClassifier  # noqa: E402
from digits_data import SIZE, split, to_uint8_rgb  # noqa: E402

WEIGHTS_DIR = HERE / "weights"
STORE = HERE.parent / ".genquality"
REFERENCE_NAME = "digits-held-out"
SAMPLES_PNG = HERE.parents[1] / "docs" / "digits_samples.png"

DDPM_STEPS = 3000  # optimiser steps of batch DDPM_BATCH: about 150 epochs of the 1 297 training digits
DDPM_BATCH = 64
UNDERTRAINED_STEP = 300  # the "under-trained" checkpoint the regression variant loads
EMA_DECAY = 0.995


def make_unet():
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=SIZE,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def make_scheduler():
    from diffusers import DDIMScheduler

    # cosine noise schedule (Nichol & Dhariwal 2021): better than linear on small images
    return DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)


def shifted(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 1 pixel: the classifier must not depend on where a digit sits."""
    dx, dy = torch.randint(-1, 2, (2,), generator=generator).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))


def train_classifier(data, epochs: int = 30) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    images, labels = data["train"]
    model = DigitClassifier()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(epochs):
        model.train()
        for index in torch.randperm(len(images), generator=generator).split(64):
            loss = F.cross_entropy(model(shifted(images[index], generator)), labels[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    held_images, held_labels = data["held_out"]
    with torch.no_grad():
        accuracy = (model(held_images).argmax(1) == held_labels).float().mean().item()
    WEIGHTS_DIR.mkdir(exist_ok=True)
    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, CLASSIFIER_WEIGHTS)
    print(f"classifier: held-out accuracy {accuracy:.2%} on {len(held_labels)} digits -> {CLASSIFIER_WEIGHTS}")


def build_reference(data) -> None:
    """The held-out digits as PNG files, through the CLI with the digit classifier as extractor:

        PYTHONPATH=examples/digits_suite genquality build-ref held-out-digits --name digits-held-out \\
            --extractor digit_classifier:DigitFeatures --gen-store examples/.genquality
    """
    import os
    import subprocess
    import tempfile

    from PIL import Image

    images, _ = data["held_out"]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "held-out-digits").mkdir()
        for index, image in enumerate(to_uint8_rgb(images)):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(Path(folder) / "held-out-digits" / f"{index:03d}.png")
        command = [
            sys.executable,
            "-m",
            "pytest_genquality.cli",
            "build-ref",
            "held-out-digits",
            "--name",
            REFERENCE_NAME,
            "--extractor",
            "digit_classifier:DigitFeatures",
            "--gen-store",
            str(STORE),
            "--gen-device",
            "cpu",
            "--batch-size",
            "250",
        ]
        python_path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
        subprocess.run(command, cwd=folder, env={**os.environ, "PYTHONPATH": python_path}, check=True)


def save_pipeline(unet, folder: Path) -> None:
    from diffusers import DDIMPipeline

    DDIMPipeline(unet=unet, scheduler=make_scheduler()).save_pretrained(folder, safe_serialization=True)


def train_ddpm(data) -> None:
    import copy

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    images = data["train"][0] * 2 - 1  # the UNet works in [-1, 1]
    unet, scheduler = make_unet(), make_scheduler()
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimiser = torch.optim.AdamW(unet.parameters(), lr=2e-3, weight_decay=0.0)
    warmup = 100
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, DDPM_STEPS) / DDPM_STEPS)),
    )
    started = time.time()
    order = torch.empty(0, dtype=torch.long)
    for step in range(1, DDPM_STEPS + 1):
        if len(order) < DDPM_BATCH:
            order = torch.randperm(len(images), generator=generator)
        index, order = order[:DDPM_BATCH], order[DDPM_BATCH:]
        clean = images[index]
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(clean),), generator=generator)
        loss = F.mse_loss(unet(scheduler.add_noise(clean, noise, timesteps), timesteps).sample, noise)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        with torch.no_grad():
            for average, current in zip(ema.parameters(), unet.parameters()):
                average.lerp_(current, 1 - decay)
        if step == UNDERTRAINED_STEP:
            save_pipeline(ema, WEIGHTS_DIR / "ddim-undertrained")
        if step % 200 == 0 or step in (20, DDPM_STEPS):
            print(f"ddpm: step {step}/{DDPM_STEPS} loss {loss.item():.4f} ({time.time() - started:.0f} s)", flush=True)
    save_pipeline(ema, WEIGHTS_DIR / "ddim")
    print(f"ddpm: {DDPM_STEPS} steps in {time.time() - started:.0f} s -> {WEIGHTS_DIR / 'ddim'}")


def save_samples(count: int = 64) -> None:
    """The first ``count`` seeds of the suite, sampled as the suite samples them, shown 3x enlarged."""
    from digits_variants import load_variant

    from pytest_genquality.generation.engine import make_generate

    model, sampling = load_variant("committed")
    batch = make_generate(torch.device("cpu"))(model, seeds=range(count), batch_size=count, **sampling)
    grid = batch.grid(cols=16, background=0)
    grid.resize((grid.width * 3, grid.height * 3), resample=0).save(SAMPLES_PNG, optimize=True)
    print(f"samples: seeds 0..{count - 1}, {sampling} -> {SAMPLES_PNG}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("classifier", "reference", "ddpm", "samples"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = split()
    started = time.time()
    if args.only in (None, "classifier"):
        train_classifier(data)
    if args.only in (None, "classifier", "reference"):
        build_reference(data)
    if args.only in (None, "ddpm"):
        train_ddpm(data)
    if args.only in (None, "ddpm", "samples"):
        save_samples()
    print(f"done in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
