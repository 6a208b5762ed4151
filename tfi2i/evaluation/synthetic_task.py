"""Scores of a translation of the built-in synthetic task (label maps A -> paintings B), whose
true B of every A is known, so unpaired models can be scored too."""

import numpy as np

from tfi2i.data import synthetic


def held_out_pairs(count, size, seed):
    """(A, true B) arrays of `count` fresh synthetic examples, [count, size, size, 3] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    pairs = [synthetic.sample(rng, size) for _ in range(count)]
    return tuple(np.stack([np.asarray(p[i], np.float32) for p in pairs]) / 127.5 - 1.0 for i in (0, 1))


def translation_scores(translated, a, truth):
    """(mean |G(A) - truth|, contrast): contrast is how far G(A) inside A's shapes is from G(A)
    on the background, the largest channel difference of the two means, averaged over images.
    A generator that ignores its input, or moves the shapes, has contrast near 0 however close
    its colours are."""
    translated = np.asarray(translated)
    shapes = np.abs(a + 1.0).max(-1) > 0.5  # label maps: shapes on black
    contrast = [np.abs(g[m].mean(0) - g[~m].mean(0)).max() for g, m in zip(translated, shapes)]
    return float(np.abs(translated - truth).mean()), float(np.mean(contrast))
