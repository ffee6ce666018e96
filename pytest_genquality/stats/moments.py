"""Streaming float64 moments of feature rows.

``RunningMoments``: mean and covariance over batches, constant memory in N (Chan et al.
pairwise update, so a million float32 rows lose no precision); ``merge`` combines the moments
of disjoint shares exactly (the ranks of a torchrun job).
"""

from __future__ import annotations

import numpy as np


class RunningMoments:
    """Mean and unbiased covariance of feature rows, accumulated batch by batch in float64."""

    def __init__(self, dim: int):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim: expected a positive int, got {dim!r}")
        self.dim = dim
        self.count = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self._scatter = np.zeros((dim, dim), dtype=np.float64)  # sum of outer products of deviations

    def update(self, rows) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"rows: expected shape [n, {self.dim}], got {rows.shape}")
        if rows.shape[0] == 0:
            return
        if not np.isfinite(rows).all():
            raise ValueError("rows: features contain NaN or infinite values")
        batch_count = rows.shape[0]
        batch_mean = rows.mean(axis=0)
        centred = rows - batch_mean
        batch_scatter = centred.T @ centred
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self._scatter += batch_scatter + np.outer(delta, delta) * (self.count * batch_count / total)
        self.mean += delta * (batch_count / total)
        self.count = total

    def merge(self, other: "RunningMoments") -> "RunningMoments":
        """Fold in the moments of another, disjoint set of rows (exact: Chan et al. 1979, parallel form).

        The result equals one ``RunningMoments`` fed both sets of rows, to float64 round-off
        (about 1e-15 relative): this is how ranks of a distributed run combine their shares.
        Returns ``self``.
        """
        if not isinstance(other, RunningMoments) or other.dim != self.dim:
            raise ValueError(f"other: expected RunningMoments of dim {self.dim}, got {other!r}")
        if other.count == 0:
            return self
        total = self.count + other.count
        delta = other.mean - self.mean
        self._scatter += other._scatter + np.outer(delta, delta) * (self.count * other.count / total)
        self.mean += delta * (other.count / total)
        self.count = total
        return self

    def state(self) -> dict:
        """count, mean and scatter as plain arrays: what a rank sends to the others."""
        return {"dim": self.dim, "count": self.count, "mean": self.mean, "scatter": self._scatter}

    @classmethod
    def from_state(cls, state: dict) -> "RunningMoments":
        moments = cls(int(state["dim"]))
        moments.count = int(state["count"])
        moments.mean = np.array(state["mean"], dtype=np.float64)
        moments._scatter = np.array(state["scatter"], dtype=np.float64)
        return moments

    @property
    def covariance(self) -> np.ndarray:
        if self.count < 2:
            raise ValueError(f"covariance needs at least 2 samples, got {self.count}")
        return self._scatter / (self.count - 1)


def mean_and_covariance(features) -> tuple[np.ndarray, np.ndarray]:
    """float64 mean and unbiased covariance (np.cov convention, as pytorch-fid)."""
    features = np.asarray(features, dtype=np.float64)
    moments = RunningMoments(features.shape[1])
    moments.update(features)
    return moments.mean, moments.covariance
