"""Inception Score (Salimans et al., 2016): exp(E_x KL(p(y|x) || p(y))), with p(y) the mean
class distribution, computed on each of `splits` consecutive parts of the images (the original
code's split) and reported as the mean and standard deviation over the parts. Higher is
better; it reads the fakes alone.
"""

import numpy as np


def log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits, splits=10):
    """(mean, std) of the score over `splits` parts of [N, classes] `logits`."""
    log_p = log_softmax(logits)
    count = len(log_p)
    if count < splits:
        raise ValueError(f"the Inception Score needs at least {splits} images (one for each of its {splits} "
                         f"splits), got {count}")
    scores = []
    for i in range(splits):
        part = log_p[i * count // splits:(i + 1) * count // splits]
        log_marginal = np.log(np.exp(part).mean(axis=0, keepdims=True))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))
