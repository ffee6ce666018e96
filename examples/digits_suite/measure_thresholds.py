"""Measure the digits suite's metrics on disjoint seed blocks: the spread behind its thresholds.

    python examples/digits_suite/measure_thresholds.py                  # committed model, 10 seed blocks
    python examples/digits_suite/measure_thresholds.py --variant few-steps --sets 1

For each of ``--sets`` disjoint blocks of 200 seeds (0..199, 200..399, ...) it prints FID, recall,
coverage and the rarest digit's share against the held-out digits, then their mean and standard
deviation over the blocks and the bound a fresh block of the unchanged model passes with
probability 99.5 % (``stats.thresholds.from_blocks``: a prediction bound, wide when the blocks
are few). The suite's thresholds come from 80 such blocks (benchmarks/bench_drift_real.py, table
4). Four blocks are not enough: they once gave "FID sd 1.6" where 80 give 3.8, and a threshold
the unchanged model failed on 37 of 80 blocks.

For your own model, `genquality thresholds` does this from the store (after `pytest
--update-refs`), and says how many seed blocks its suggestion rests on.
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
from pytest_genquality.features.image_metrics import fid  # noqa: E402
from pytest_genquality.metrics import density_coverage, precision_recall  # noqa: E402
from pytest_genquality.stats.thresholds import from_blocks, rounded_outwards  # noqa: E402
from pytest_genquality.store import Store  # noqa: E402

SET_SIZE = 200
METRICS = {"fid": False, "recall": True, "coverage": True, "rarest_digit_share": True}  # name: higher is better


def measure(batch, reference, extractor) -> dict[str, float]:
    rows = extractor(batch)["pool"].numpy().astype(np.float64)
    real = np.asarray(reference.features, dtype=np.float64)
    counts = np.bincount(extractor.classify(batch).numpy(), minlength=10)
    return {
        "fid": fid(batch, reference, extractor=extractor),
        "recall": precision_recall(real, rows, k=3).recall,
        "coverage": density_coverage(real, rows, k=5).coverage,
        "rarest_digit_share": counts.min() / counts.sum(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, default="committed")
    parser.add_argument("--sets", type=int, default=10)
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
        print(
            f"{args.variant} seeds {seeds.start}..{seeds.stop - 1}: "
            + "  ".join(f"{name} {value:.4g}" for name, value in values[-1].items()),
            flush=True,
        )
    if args.sets > 1:
        for name, higher_is_better in METRICS.items():
            series = np.array([value[name] for value in values])
            suggestion = from_blocks(series, higher_is_better=higher_is_better)
            bound = rounded_outwards(suggestion.threshold, higher_is_better)
            print(
                f"{name:>20}: mean {series.mean():.4g}, sd {series.std(ddof=1):.3g} over {len(series)} blocks; "
                f"threshold {suggestion.relation} {bound:g} (a fresh block passes with probability 99.5 %)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
