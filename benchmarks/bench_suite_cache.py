"""The example suites, first run vs rerun with --gen-cache (images and features cached).

Copies ``examples/`` to a temporary folder, builds what every run shares once (the demo
weights and the reference statistics: one warm-up session without the cache, not timed as
either run), then times ``pytest --gen-cache`` with an empty cache and again with a full one.
The rerun skips generation and feature extraction; what remains is pytest's start-up, the
models' fingerprints, and the metrics with their drift tests.

    python benchmarks/bench_suite_cache.py [-k EXPRESSION]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PACKAGE_ROOT = EXAMPLES.parent


def timed_pytest(folder: Path, *options: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"pytest {' '.join(options)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default=None, help="pytest -k expression (default: every example test)")
    args = parser.parse_args()
    selection = ["-k", args.k] if args.k else []
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir) / "examples"
        shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("cache", "runs", "__pycache__"))
        timed_pytest(folder, *selection)  # warm-up: demo weights, reference statistics
        first = timed_pytest(folder, "--gen-cache", *selection)
        rerun = timed_pytest(folder, "--gen-cache", *selection)
    print(f"example suites, CPU ({os.cpu_count()} cores), wall time per pytest session")
    print(f"  first run, empty cache (generate + extract)   {first:8.1f} s")
    print(f"  rerun, full cache (read images + features)    {rerun:8.1f} s")
    print(f"  speed-up                                      {first / rerun:8.1f} x")


if __name__ == "__main__":
    main()
