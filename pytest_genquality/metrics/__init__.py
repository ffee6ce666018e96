"""Pure metric functions: arrays/tensors in, numbers out; no pytest, no file I/O.

Every family is imported here, eagerly, because most functions share their module's name
(``metrics/kid.py`` defines ``kid``): binding the function after the submodule is loaded keeps
``pytest_genquality.metrics.kid`` the function, whatever was imported first. Heavy optional
dependencies (transformers, the lpips package) are imported inside the functions that use them.
"""

from .clip_score import clip_score
from .cmmd import cmmd
from .collapse import log_nn_distance, near_duplicates
from .efficiency import TimingNoise, timing_noise
from .fd_infinity import FDInfinityFit, fd_infinity
from .fid import fid
from .frechet import frechet_distance, frechet_distance_to_samples
from .inception_score import inception_score
from .kid import kid
from .lpips import lpips
from .pixel import psnr, ssim
from .prdc import density_coverage, precision_recall
from .vendi import vendi_score

__all__ = [
    "FDInfinityFit",
    "TimingNoise",
    "clip_score",
    "cmmd",
    "density_coverage",
    "fd_infinity",
    "fid",
    "frechet_distance",
    "frechet_distance_to_samples",
    "inception_score",
    "kid",
    "log_nn_distance",
    "lpips",
    "near_duplicates",
    "precision_recall",
    "psnr",
    "ssim",
    "timing_noise",
    "vendi_score",
]
