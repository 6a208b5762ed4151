"""Kernel Inception Distance (Binkowski et al., 2018): the unbiased estimate of the squared
MMD between two feature sets with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3,
averaged over random subsets (mean and standard deviation are reported).
"""

import numpy as np


def polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased MMD^2: within-set kernel means leave out the diagonal (k(x_i, x_i))."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return within_x + within_y - 2.0 * k_xy.mean()


def kid(real_features, fake_features, subset_size=1000, subsets=100, seed=0):
    """(mean, std) of MMD^2 over `subsets` random subsets of min(subset_size, N) features of
    each set, drawn without replacement within a subset. Can be negative: it is unbiased."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images in each set, got {min(len(real), len(fake))}")
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(real[rng.choice(len(real), size, replace=False)], fake[rng.choice(len(fake), size, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
