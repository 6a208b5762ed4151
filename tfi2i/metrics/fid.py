"""Fréchet Inception Distance (Heusel et al., 2017): the Fréchet distance between Gaussians
fitted to two feature sets,

    |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2)).
"""

import numpy as np

from tfi2i.errors import Tfi2iError


def gaussian(features):
    """(mean, covariance) of features [N, D], in float64."""
    features = np.asarray(features, np.float64)
    if len(features) < 2:
        raise ValueError(f"FID needs at least 2 images in each set, got {len(features)}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean_1, cov_1, mean_2, cov_2):
    # tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2): the right side is a symmetric PSD matrix,
    # so its eigenvalues are real and non-negative, and no complex matrix square root is needed.
    root_1 = _psd_sqrt(cov_1)
    eigenvalues = np.linalg.eigvalsh(root_1 @ cov_2 @ root_1)
    trace_of_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    difference = mean_1 - mean_2
    distance = difference @ difference + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_of_root
    return float(max(distance, 0.0))  # rounding can leave -1e-12 for equal sets


def fid(real_features, fake_features):
    return frechet_distance(*gaussian(real_features), *gaussian(fake_features))


def save_statistics(path, mean, cov):
    """Writes mean and covariance as an .npz with the keys `mu` and `sigma`, the format
    pytorch-fid and clean-fid read and write."""
    with open(path, "wb") as f:  # np.savez would add .npz to a path without it
        np.savez(f, mu=mean, sigma=cov)


def load_statistics(path, dimension):
    """(mean, covariance) from an .npz of `mu` and `sigma` for `dimension`-d features."""
    try:
        with np.load(path) as saved:
            mean, cov = np.asarray(saved["mu"], np.float64), np.asarray(saved["sigma"], np.float64)
    except (OSError, ValueError, KeyError) as error:
        raise Tfi2iError(f"'{path}' is not an .npz of FID statistics with mu and sigma ({error}); "
                         f"write one with tfi2i evaluate --save-stats") from None
    if mean.shape != (dimension,) or cov.shape != (dimension, dimension):
        raise Tfi2iError(f"'{path}' holds statistics of {mean.shape[0] if mean.ndim == 1 else mean.shape} features, "
                         f"these features have {dimension} dimensions; score with the feature network that made them")
    return mean, cov
