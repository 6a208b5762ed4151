"""Metrics of a translation against its known target (paired data), per image pair.

Images are float [H, W, C] in [-1, 1]; pixel accuracy, PSNR and SSIM are taken on the 0-255
scale the images are saved in, L1 on the [-1, 1] scale the training losses use.
"""

import numpy as np
import tensorflow as tf

from tfi2i import pixels

PAIRED_METRICS = ("pixel_accuracy", "l1", "psnr", "ssim")
SSIM_WINDOW = 11  # tf.image.ssim's default Gaussian window; smaller images use their own size


def to_levels(image):
    return pixels.to_levels(np.asarray(image, np.float32))


def pixel_accuracy(fake, real, threshold=16):
    """Share of pixels whose colour is within `threshold` levels of the target in every
    channel (the UNIT paper's map-translation measure, threshold 16)."""
    difference = np.abs(to_levels(fake) - to_levels(real)).max(axis=-1)
    # Rounded so that the float error of the [-1, 1] scaling cannot push 16.0 to 16.00001.
    return float((np.round(difference, 3) <= threshold).mean())


def l1(fake, real):
    return float(np.abs(np.asarray(fake, np.float32) - np.asarray(real, np.float32)).mean())


def psnr(fake, real):
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    return float(tf.image.psnr(to_levels(fake), to_levels(real), max_val=255.0))


def ssim(fake, real):
    window = min(SSIM_WINDOW, *np.shape(fake)[:2])
    return float(tf.image.ssim(to_levels(fake), to_levels(real), max_val=255.0, filter_size=window))


def paired_scores(pairs, metrics=PAIRED_METRICS, threshold=16):
    """{metric: mean over the (fake, real) pairs}; each image counts once whatever its size."""
    functions = {"pixel_accuracy": lambda f, r: pixel_accuracy(f, r, threshold), "l1": l1, "psnr": psnr, "ssim": ssim}
    scores = {name: [] for name in metrics}
    for fake, real in pairs:
        if np.shape(fake) != np.shape(real):
            raise ValueError(f"a translation of shape {np.shape(fake)} has a target of shape {np.shape(real)}")
        for name in metrics:
            scores[name].append(functions[name](fake, real))
    return {name: float(np.mean(values)) for name, values in scores.items()}
