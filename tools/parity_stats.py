"""The statistics tools/parity.py summarizes seeds with: the standard deviation over seeds,
Welch's t of two sides' means, and the confidence interval of their ratio."""

import numpy as np


def sample_std(values):
    """The standard deviation over seeds (rows) with n - 1, NaN for one seed; exactly 0 for a
    column of one value (where the mean's rounding would leave about 1e-17)."""
    if len(values) < 2:
        return np.full(values.shape[1], np.nan)
    return np.where(np.ptp(values, axis=0) == 0, 0.0, values.std(axis=0, ddof=1))


def welch_t(a, b):
    """Welch's t of the mean of rows `a` against that of rows `b`, per column."""
    error = np.sqrt(sample_std(a) ** 2 / len(a) + sample_std(b) ** 2 / len(b))
    difference = a.mean(axis=0) - b.mean(axis=0)
    # A column constant on both sides (untrained scores) has no spread: t is 0 where the
    # means agree and infinite where they differ.
    t = np.copysign(np.inf, difference)
    t[difference == 0] = 0.0
    spread = error > 0
    t[spread] = difference[spread] / error[spread]
    return t


def ratio_interval(a, b, level=0.90):
    """The `level` confidence interval of mean(a) / mean(b) per column, from the rows' means,
    stds and counts (`interval_of_ratio`)."""
    return np.array([interval_of_ratio(a[:, i].mean(), sample_std(a)[i], len(a), b[:, i].mean(), sample_std(b)[i],
                                       len(b), level) for i in range(a.shape[1])])


def interval_of_ratio(mean_a, std_a, n_a, mean_b, std_b, n_b, level=0.90):
    """Fieller's `level` confidence interval (low, high) of the ratio of two independent means,
    with Welch's degrees of freedom at the estimated ratio: the ratios r for which
    mean_a - r mean_b is not significantly different from 0. A 90% interval inside
    (1 - d, 1 + d) is the two one-sided tests' verdict "equal within d" at the 5% level.
    (-inf, inf) where mean_b itself is not significantly away from 0."""
    from scipy import stats

    var_a, var_b = std_a ** 2 / n_a, std_b ** 2 / n_b
    ratio = mean_a / mean_b
    if var_a == 0 and var_b == 0:  # no spread on either side: the ratio is known exactly
        return ratio, ratio
    dof = (var_a + ratio ** 2 * var_b) ** 2 / (var_a ** 2 / (n_a - 1) + ratio ** 4 * var_b ** 2 / (n_b - 1))
    q = stats.t.ppf((1 + level) / 2, dof)
    # (mean_a - r mean_b)^2 = q^2 (var_a + r^2 var_b), a quadratic in r
    lead = mean_b ** 2 - q ** 2 * var_b
    if lead <= 0:
        return -np.inf, np.inf
    half_width = q * np.sqrt(mean_b ** 2 * var_a + mean_a ** 2 * var_b - q ** 2 * var_a * var_b)
    return (mean_a * mean_b - half_width) / lead, (mean_a * mean_b + half_width) / lead
