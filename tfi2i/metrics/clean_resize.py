"""Resizing images for a feature network the way clean-fid's `clean` mode does (Parmar, Zhang
and Zhu, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022): each
channel resized by PIL's bicubic filter in 32-bit float, which antialiases when it shrinks,
with no rounding to 8-bit levels, then clipped to 0-255.

Library bilinear / bicubic resizes without antialiasing (TensorFlow's and PyTorch's defaults)
alias when they shrink, and that moves FID by several points between toolkits.
"""

import numpy as np
from PIL import Image

from tfi2i import pixels


def clean_resize(images, size):
    """[N, H, W, C] float images in [-1, 1] -> [N, size, size, C] float32 pixel levels 0-255."""
    levels = np.clip(pixels.to_levels(np.asarray(images, np.float32)), 0.0, 255.0)
    return np.stack([
        np.stack([resize_channel(image[:, :, c], size) for c in range(image.shape[-1])], axis=-1)
        for image in levels
    ]).astype(np.float32)


def resize_channel(channel, size):
    """One [H, W] float channel -> [size, size] by PIL's bicubic filter in mode F, clipped to 0-255."""
    resized = Image.fromarray(np.ascontiguousarray(channel, np.float32), mode="F").resize(
        (size, size), resample=Image.BICUBIC)
    return np.asarray(resized).clip(0.0, 255.0)
