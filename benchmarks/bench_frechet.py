"""Frechet distance at d = 2048: pytest-genquality vs pytorch-fid's calculate_frechet_distance.

Three cases, all on seeded random well-conditioned covariances (eigenvalues in [0.05, 1.05]):

  (a) plain     frechet_distance(mu1, s1, mu2, s2)            vs pytorch-fid on the same moments
  (b) stored    FID of N >= d feature rows against ReferenceStats whose sqrt is precomputed:
                frechet_distance(ref.mu, ref.sigma, mu_b, cov_b, sqrt_sigma1=ref.matrix_sqrt())
  (c) lowrank   N = 256 rows against stored statistics: frechet_distance_to_samples(...)

Times are wall-clock seconds, median of ``--repeats`` (ours) and ``--peer-repeats``
(pytorch-fid; scipy's sqrtm is slow). Ratios are peer / ours, measured in the same run.

    python benchmarks/bench_frechet.py
    python benchmarks/bench_frechet.py --dim 1024 --repeats 5
    python benchmarks/bench_frechet.py --threads 1     # steadier on a loaded machine
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def random_covariance(rng: np.random.Generator, dim: int) -> np.ndarray:
    """Q diag(λ) Qᵀ with λ in [0.05, 1.05]: condition number ≤ 21."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eigenvalues = rng.uniform(0.05, 1.05, size=dim)
    sigma = (q * eigenvalues) @ q.T
    return (sigma + sigma.T) / 2


def sample_rows(rng: np.random.Generator, mu: np.ndarray, sigma: np.ndarray, count: int) -> np.ndarray:
    root = np.linalg.cholesky(sigma)
    return (mu + rng.standard_normal((count, mu.shape[0])) @ root.T).astype(np.float32)


def timed(function, repeats: int) -> tuple[float, float]:
    """(median seconds, value of the last call)."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), float(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--rows", type=int, default=2500, help="N >= d rows for case (b)")
    parser.add_argument("--small-rows", type=int, default=256, help="N < d rows for case (c)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="limit BLAS/OpenMP threads (threadpoolctl)")
    args = parser.parse_args(argv)

    from pytorch_fid.fid_score import calculate_frechet_distance

    from pytest_genquality.metrics.frechet import frechet_distance, frechet_distance_to_samples
    from pytest_genquality.reference import ReferenceStats
    from pytest_genquality.stats import mean_and_covariance

    if args.threads:  # after the imports, so that every BLAS library loaded is limited
        import threadpoolctl

        threadpoolctl.threadpool_limits(args.threads)

    try:
        import threadpoolctl

        pools = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpoolctl.threadpool_info())
    except ImportError:
        pools = "threadpoolctl not installed"
    print(f"d={args.dim}  BLAS threads: {pools}")

    rng = np.random.default_rng(0)
    dim = args.dim
    mu1, mu2 = rng.standard_normal(dim) * 0.1, rng.standard_normal(dim) * 0.1
    sigma1, sigma2 = random_covariance(rng, dim), random_covariance(rng, dim)

    def peer(m1, s1, m2, s2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return calculate_frechet_distance(m1, s1, m2, s2)

    rows_out = []

    # (a) plain call on two covariances
    ours_t, ours_v = timed(lambda: frechet_distance(mu1, sigma1, mu2, sigma2), args.repeats)
    peer_t, peer_v = timed(lambda: peer(mu1, sigma1, mu2, sigma2), args.peer_repeats)
    rows_out.append(("(a) plain d x d", ours_t, peer_t, ours_v, peer_v, 5))

    # (b) batch of N >= d rows against stored reference statistics (sqrt precomputed at build time)
    reference = ReferenceStats(mu1, sigma1, 50_000, "bench")
    reference.matrix_sqrt()
    batch = sample_rows(rng, mu2, sigma2, args.rows)
    mu_b, cov_b = mean_and_covariance(batch)

    def ours_stored():
        return frechet_distance(reference.mu, reference.sigma, mu_b, cov_b, sqrt_sigma1=reference.matrix_sqrt())

    ours_t, ours_v = timed(ours_stored, args.repeats)
    peer_t, peer_v = timed(lambda: peer(reference.mu, reference.sigma, mu_b, cov_b), args.peer_repeats)
    rows_out.append((f"(b) stored ref, N={args.rows}", ours_t, peer_t, ours_v, peer_v, 12))

    # (c) N < d rows against stored statistics: the exact N x N path
    small = sample_rows(rng, mu2, sigma2, args.small_rows)
    mu_s, cov_s = mean_and_covariance(small)
    ours_t, ours_v = timed(lambda: frechet_distance_to_samples(reference.mu, reference.sigma, small), args.repeats)
    peer_t, peer_v = timed(lambda: peer(reference.mu, reference.sigma, mu_s, cov_s), args.peer_repeats)
    rows_out.append((f"(c) low-rank, N={args.small_rows}", ours_t, peer_t, ours_v, peer_v, 50))

    print(
        f"{'case':<26} {'ours s':>9} {'pytorch-fid s':>14} {'speed-up':>9} {'goal':>6} "
        f"{'ours value':>18} {'pytorch-fid value':>18} {'rel diff':>9}"
    )
    for name, ours_t, peer_t, ours_v, peer_v, goal in rows_out:
        ratio = peer_t / ours_t
        rel = abs(ours_v - peer_v) / abs(peer_v)
        flag = "ok" if ratio >= goal else "MISS"
        print(
            f"{name:<26} {ours_t:>9.3f} {peer_t:>14.3f} {ratio:>8.1f}x {goal:>5}x "
            f"{ours_v:>18.10f} {peer_v:>18.10f} {rel:>9.1e}  {flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
