"""The one mapping between pixel levels (0-255) and the [-1, 1] range the networks see.

Plain arithmetic, so NumPy arrays and tensors go through the same functions.
"""

import tensorflow as tf


def to_unit_range(levels):
    """Pixel levels 0-255 -> [-1, 1]."""
    return levels / 127.5 - 1.0


def to_levels(images):
    """[-1, 1] -> pixel levels 0-255, unrounded."""
    return (images + 1.0) * 127.5


def to_uint8(images):
    """[-1, 1] -> uint8 pixels, rounded to the nearest level (a uint8 tensor)."""
    return tf.cast(tf.round(tf.clip_by_value(to_levels(images), 0.0, 255.0)), tf.uint8)
