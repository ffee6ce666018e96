"""Measure the digits suite's metrics, to set its thresholds from numbers rather than guesses.

    python examples/digits_suite/measure_thresholds.py                  # committed model, 4 seed sets
    python examples/digits_suite/measure_thresholds.py --variant few-steps --sets 1

For each of ``--sets`` disjoint sets of 200 seeds (0..199, 200..399, ...) it prints FID, recall,
coverage and the rarest digit's share against the held-out digits, then their mean and
standard deviation over the sets (the seed-to-seed noise at N=200). The suite's thresholds are
the value of the first set (the seeds the suite uses) worsened by three such deviations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from digit_classifier import DigitFeatures  # noqa: E402
from digits_variants import VARIANTS, load_variant  # noqa: E402

from pytest_genquality.generation.engine import make_generate  # noqa: E402
from pytest_genquality.metrics import density_coverage, fid, precision_recall  # noqa: E402
from pytest_genquality.store import Store  # noqa: E402

SET_SIZE = 200
METRICS = {"fid": False, "recall": True, "coverage": True, "rarest_digit_share": True}  # name: higher is better


def measure(batch, reference, extractor) -> dict[str, float]:
    rows = extractor(batch)["pool"].numpy().astype(np.float64)
    real = np.asarray(reference.features, dtype=np.float64)
    counts = np.bincount(extractor.classify(batch).numpy(), minlength=10)
    return {"fid": fid(batch, reference, extractor=extractor), "recall": precision_recall(real, rows, k=3).recall,
            "coverage": density_coverage(real, rows, k=5).coverage, "rarest_digit_share": counts.min() / counts.sum()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, default="committed")
    parser.add_argument("--sets", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, sampling = load_variant(args.variant)
    extractor = DigitFeatures()
    reference = Store(HERE.parent / ".genquality").load_reference("digits-held-out")
    generate = make_generate(torch.device("cpu"))
    values = []
    for index in range(args.sets):
        seeds = range(index * SET_SIZE, (index + 1) * SET_SIZE)
        values.append(measure(generate(model, seeds=seeds, batch_size=100, **sampling), reference, extractor))
        print(f"{args.variant} seeds {seeds.start}..{seeds.stop - 1}: "
              + "  ".join(f"{name} {value:.4g}" for name, value in values[-1].items()), flush=True)
    if args.sets > 1:
        for name, higher_is_better in METRICS.items():
            series = np.array([value[name] for value in values])
            margin = 3 * series.std(ddof=1)
            bound = series[0] - margin if higher_is_better else series[0] + margin
            print(f"{name:>20}: mean {series.mean():.4g}, sd {series.std(ddof=1):.3g}; "
                  f"threshold {'>=' if higher_is_better else '<='} {bound:.4g} (first set {'-' if higher_is_better else '+'} 3 sd)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
