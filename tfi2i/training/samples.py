"""Sample grids: one row per example, one column per image the model shows (e.g. A | G(A) | B)."""

import numpy as np
from PIL import Image

from tfi2i import pixels


def to_uint8(images):
    """[-1, 1] float images -> uint8 RGB (grayscale is repeated to three channels)."""
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return pixels.to_uint8(images).numpy()


def grid(columns, gap=2):
    """Tiles columns (each [N, H, W, C] in [-1, 1], same H and W) into one uint8 image."""
    columns = [to_uint8(c) for c in columns]
    n, h, w, _ = columns[0].shape
    out = np.full((n * h + (n - 1) * gap, len(columns) * w + (len(columns) - 1) * gap, 3), 255, np.uint8)
    for col, images in enumerate(columns):
        for row in range(n):
            y, x = row * (h + gap), col * (w + gap)
            out[y : y + h, x : x + w] = images[row]
    return out


def save_png(image, path):
    Image.fromarray(image).save(path)
