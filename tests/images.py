"""Image helpers shared by the export and translate tests: encoded test images and the
reference result of a translator at any size, computed with NumPy padding."""

import io

import numpy as np
from PIL import Image

from tfi2i.nets import introspection


def png_bytes(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def random_pixels(height, width, channels, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def mirror_to(images, axis, target):
    """np.pad 'reflect' repeated until `target` (one pixel: repeated), as serving pads."""
    while images.shape[axis] < target:
        size = images.shape[axis]
        pad = [(0, 0)] * 4
        pad[axis] = (0, min(target - size, max(size - 1, 1)))
        images = np.pad(images, pad, mode="reflect" if size > 1 else "symmetric")
    return images


def in_process(model, direction, images):
    """The Keras translator on mirror-padded images, cropped back: what an export must give."""
    translator = model.translator(direction)
    multiple = introspection.required_multiple(translator)
    smallest = introspection.smallest_input(translator, multiple, images.shape[-1])
    height, width = images.shape[1:3]
    target = lambda n: -(-max(n, smallest) // multiple) * multiple  # noqa: E731
    padded = mirror_to(mirror_to(images, 1, target(height)), 2, target(width))
    return translator(padded).numpy()[:, :height, :width]


def as_png_levels(images):
    """Float images in [-1, 1] rounded to the 8-bit levels a PNG holds."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255)
