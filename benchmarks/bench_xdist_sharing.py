"""`pytest -n 2` against serial on a suite whose tests share one session batch (issue 22 item 11).

Each xdist worker runs its own session fixtures, so without sharing every worker generates the
session batch and extracts its features again. Since 0.3, under ``--gen-cache``, workers share both
(one computes a key while the others wait for it); each configuration starts from an empty cache.

    python benchmarks/bench_xdist_sharing.py [--before DIR] [--seeds 96] [--tests 4]

``--before DIR``: a folder holding an older ``pytest_genquality`` package (e.g. from
``git archive OLD pytest_genquality | tar -x -C DIR``), timed the same way for comparison.
Prints wall seconds per configuration and how many images each generated.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = '''
import os
import pytest
import torch
from pytest_genquality import assert_metric
from pytest_genquality.checks.assertions import batch_features

torch.manual_seed(0)
NET = torch.nn.Sequential(*[torch.nn.Conv2d(16, 16, 3, padding=1) for _ in range(6)])
CALLS = os.path.join(os.path.dirname(__file__), "calls.txt")


def sampler(seeds, prompts, device):
    """~CPU work of a small model: six 16-channel 3x3 convolutions at 96 px, per image."""
    with open(CALLS, "a") as log:
        log.write(f"{len(seeds)}\\n")
    images = []
    with torch.no_grad():
        for seed in seeds:
            noise = torch.randn(1, 16, 96, 96, generator=torch.Generator().manual_seed(seed))
            images.append(NET(noise)[0, :3].sigmoid())
    return torch.stack(images)


class Features:
    id = "bench-features"

    def __call__(self, images):
        images = getattr(images, "images", images).float() / 255
        with torch.no_grad():
            pooled = NET(torch.cat([images] * 6, dim=1)[:, :16]).mean(dim=(2, 3))
        return {"pool": pooled}


@pytest.fixture(scope="session")
def batch(generate):
    return generate(sampler, seeds=range(SEEDS), batch_size=8, value_range=(0, 1))


@pytest.mark.parametrize("case", range(TESTS))
def test_shared(batch, case):
    rows = batch_features(batch, Features())
    assert rows.shape == (SEEDS, 16)
'''


def run(project: Path, package_root: Path, args: list[str]) -> tuple[float, int]:
    (project / "calls.txt").unlink(missing_ok=True)
    for cache in project.glob(".genquality/cache"):
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    env = {**os.environ, "PYTHONPATH": str(package_root), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--gen-device=cpu", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    generated = sum(int(line) for line in (project / "calls.txt").read_text().split())
    return seconds, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=96)
    parser.add_argument("--tests", type=int, default=4)
    options = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "test_bench.py").write_text(
            PROJECT.replace("SEEDS", str(options.seeds)).replace("TESTS", str(options.tests))
        )
        (project / "pytest.ini").write_text("[pytest]\n")
        roots = [("this tree", here)] + ([("before", options.before)] if options.before else [])
        print(
            f"{options.tests} tests sharing one session batch of {options.seeds} images; "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        for label, root in roots:
            for args in ([], ["-n", "2"], ["-n", "2", "--gen-cache"]):
                seconds, generated = run(project, root, args)
                print(f"{label:10s} {' '.join(args) or 'serial':18s} {seconds:6.1f} s  {generated} images generated")


if __name__ == "__main__":
    main()
