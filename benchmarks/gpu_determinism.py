"""Are two runs of the same seeds bit-identical on this device, with the plugin's determinism switches?

    python benchmarks/gpu_determinism.py --device cuda          # runs itself twice, in two processes

Each run makes a tiny seeded random DDPM pipeline (tests/tiny_models.py, the real UNet2DModel
architecture) generate 8 images through ``make_generate`` (which switches determinism on) and
prints the sha256 of the uint8 images. Two processes, so that nothing cached in one process
(cuDNN autotuning, allocator state) can make the second run agree by accident. Also reports,
for information, how many uint8 levels the device's images differ from the CPU's (kernel
round-off; not a failure).

Exit status: 0 identical, 1 different, 2 could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def one_run(device: str, batch_size: int) -> None:
    import torch

    from pytest_genquality.generation.engine import make_generate
    from tiny_models import tiny_ddpm_pipeline

    pipe = tiny_ddpm_pipeline(seed=0)
    images = make_generate(torch.device(device))(
        pipe, seeds=range(8), batch_size=batch_size, num_inference_steps=4
    ).images
    print(hashlib.sha256(images.numpy().tobytes()).hexdigest())
    if device != "cpu":
        cpu = make_generate(torch.device("cpu"))(
            pipe, seeds=range(8), batch_size=batch_size, num_inference_steps=4
        ).images
        difference = (cpu.int() - images.int()).abs()
        print(f"vs CPU: max {int(difference.max())} uint8 levels, mean {float(difference.float().mean()):.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        one_run(args.device, args.batch_size)
        return 0
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, __file__, "--one-run", "--device", args.device, "--batch-size", str(args.batch_size)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(done.stdout + done.stderr)
            return 2
        outputs.append(done.stdout.splitlines())
    first, second = outputs[0][0], outputs[1][0]
    for line in outputs[0][1:]:
        print(line)
    same = first == second
    print(
        f"determinism {args.device}: run 1 sha256 {first[:16]}…, run 2 {second[:16]}… -> "
        f"{'bit-identical' if same else 'DIFFERENT'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
