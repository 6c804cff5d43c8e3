"""Two-sample statistics for drift.

Input drift uses the maximum mean discrepancy (MMD) between prompt embeddings, with a
Gaussian kernel and a permutation test. Why MMD and not a classifier two-sample test: it
needs no training and no held-out split, so it works on the few hundred prompts one run
samples; with a characteristic kernel it detects any difference of distributions, not
only a shift of the mean; and the permutation test gives a p-value with an exact false
alarm rate under "no change", whatever the embedding geometry. The unbiased MMD^2 is
the score the alert compares with `quality.input_drift_threshold`; the p-value says
whether a score that high could be sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class MmdResult:
    mmd2: float
    pvalue: float
    bandwidth: float


def _sq_dists(z: np.ndarray) -> np.ndarray:
    sq = np.sum(z * z, axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)


def _mmd2_from_kernel(k: np.ndarray, idx_x: np.ndarray, idx_y: np.ndarray) -> float:
    kxx = k[np.ix_(idx_x, idx_x)]
    kyy = k[np.ix_(idx_y, idx_y)]
    kxy = k[np.ix_(idx_x, idx_y)]
    m, n = len(idx_x), len(idx_y)
    # Unbiased: the diagonal (a sample against itself) is left out.
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def mmd_test(x: np.ndarray, y: np.ndarray, permutations: int = 200, seed: int = 0) -> MmdResult:
    """Unbiased MMD^2 between samples x and y (rows are points) and its permutation p-value.

    The kernel bandwidth is the median pairwise distance of the pooled sample (the median
    heuristic), which makes the score comparable across embedding models and sample sizes.
    """
    if len(x) < 2 or len(y) < 2:
        raise ValueError("each sample needs at least two points")
    z = np.vstack([x, y]).astype(np.float64)
    d2 = _sq_dists(z)
    upper = d2[np.triu_indices(len(z), k=1)]
    bandwidth = float(np.sqrt(np.median(upper[upper > 0]))) if np.any(upper > 0) else 1.0
    k = np.exp(-d2 / (2.0 * bandwidth**2))
    m = len(x)
    idx = np.arange(len(z))
    observed = _mmd2_from_kernel(k, idx[:m], idx[m:])
    rng = np.random.default_rng(seed)
    at_least = 1  # the observed split counts as one permutation
    for _ in range(permutations):
        perm = rng.permutation(len(z))
        if _mmd2_from_kernel(k, perm[:m], perm[m:]) >= observed:
            at_least += 1
    return MmdResult(mmd2=observed, pvalue=at_least / (permutations + 1), bandwidth=bandwidth)


def length_shift(current: list[int], reference: list[int]) -> float | None:
    """Kolmogorov-Smirnov statistic between two output-length samples (0 same, 1 disjoint)."""
    if len(current) < 2 or len(reference) < 2:
        return None
    return float(stats.ks_2samp(current, reference).statistic)
