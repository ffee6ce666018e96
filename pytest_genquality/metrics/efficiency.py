"""Efficiency: the run-to-run noise of a time per image, which a drift margin on speed needs.

Speed is a quality of a generator too (a scheduler change that doubles the steps, a lost
``torch.compile``), but a timing has no seed-to-seed noise to speak of: what varies is the
machine (clocks, other processes, allocator state, kernel autotuning). So the noise of a time per
image is measured from *repeated runs of the same work* (same seeds, same batch), not from
different seeds, and a drift margin on it is a multiple of that run-to-run spread.

Peak device memory is measured where the device is, in ``generation/efficiency.py``: it reads
torch's allocator, which is no pure function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import as_float_array

TIMING_CONFIDENCE = 0.95


@dataclass(frozen=True)
class TimingNoise:
    """Summary of repeated timings, in seconds per image.

    mean: the mean over runs. sd: the run-to-run standard deviation (ddof = 1), the noise of one
    run. sem: sd / sqrt(runs), the noise of the mean. interval: Student-t ``confidence`` interval of
    the mean. runs: the number of runs.
    """

    mean: float
    sd: float
    sem: float
    interval: tuple[float, float]
    runs: int
    confidence: float

    def difference_sd(self, runs: int) -> float:
        """SD of (mean of ``runs`` new runs) - (this mean), both runs drawn from the same machine noise.

        sd * sqrt(1 / runs + 1 / self.runs): the scale of a drift margin comparing a new timing
        with this baseline.
        """
        if runs < 1:
            raise ValueError(f"runs: expected an int >= 1, got {runs}")
        return self.sd * float(np.sqrt(1.0 / runs + 1.0 / self.runs))


def timing_noise(seconds_per_image, *, confidence: float = TIMING_CONFIDENCE) -> TimingNoise:
    """Mean and run-to-run noise of repeated timings.

    seconds_per_image: 1-D (list, numpy array or tensor), one value per repeated run of the same work (wall seconds of the run
    divided by its number of images), at least 2 runs, every value finite and > 0. Leave out
    warm-up runs (first-call compilation, cuDNN autotuning, cache fills) before calling: they are
    a different quantity, not noise.
    interval = mean ± t_{(1+confidence)/2, runs-1} · sd / sqrt(runs) (Student, the runs taken as
    independent draws of the machine's noise; with 3-5 runs the t quantile, not 1.96, is what
    keeps the coverage).
    """
    from scipy import stats

    if isinstance(seconds_per_image, (list, tuple)):
        seconds_per_image = np.asarray(seconds_per_image)
    values = as_float_array(seconds_per_image, "seconds_per_image")
    if values.ndim != 1:
        raise ValueError(
            f"seconds_per_image: expected a 1-D array of one timing per run, got shape {tuple(values.shape)}; "
            "average each run's per-image times first"
        )
    if values.shape[0] < 2:
        raise ValueError(
            f"seconds_per_image: got {values.shape[0]} runs; expected at least 2 to measure run-to-run noise"
        )
    values = values.astype(np.float64)
    if not np.isfinite(values).all() or (values <= 0).any():
        bad = float(values[~(np.isfinite(values) & (values > 0))][0])
        raise ValueError(f"seconds_per_image: contains {bad!r}; expected finite times > 0")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a number strictly between 0 and 1, got {confidence!r}")
    runs = values.shape[0]
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    sem = sd / float(np.sqrt(runs))
    half_width = float(stats.t.ppf((1.0 + confidence) / 2.0, df=runs - 1)) * sem
    return TimingNoise(mean, sd, sem, (mean - half_width, mean + half_width), runs, float(confidence))
