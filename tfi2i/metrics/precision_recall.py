"""Improved precision and recall (Kynkäänniemi et al., 2019).

Each feature vector of a set gets a hypersphere reaching to its k-th nearest neighbour within
that set. Precision: the share of translated samples inside some real sample's sphere (how
many look real). Recall: the share of real samples inside some translated sample's sphere (how
much of the real variety is covered).
"""

import numpy as np

_CHUNK = 1024  # rows of the distance matrix computed at a time


def _distances(x, y):
    squared = (x * x).sum(1)[:, None] - 2.0 * x @ y.T + (y * y).sum(1)[None, :]
    return np.sqrt(np.clip(squared, 0.0, None))


def neighbourhood_radii(features, k):
    """Distance from each sample to its k-th nearest other sample."""
    radii = []
    for start in range(0, len(features), _CHUNK):
        distances = _distances(features[start : start + _CHUNK], features)
        radii.append(np.partition(distances, k, axis=1)[:, k])  # index 0 is the sample itself
    return np.concatenate(radii)


def coverage(samples, centres, radii):
    """Share of `samples` inside at least one sphere (centre, radius)."""
    inside = [
        (_distances(samples[start : start + _CHUNK], centres) <= radii[None, :]).any(axis=1)
        for start in range(0, len(samples), _CHUNK)
    ]
    return float(np.concatenate(inside).mean())


def precision_recall(real_features, fake_features, k=3):
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} images in each set, got {min(len(real), len(fake))}")
    precision = coverage(fake, real, neighbourhood_radii(real, k))
    recall = coverage(real, fake, neighbourhood_radii(fake, k))
    return precision, recall
