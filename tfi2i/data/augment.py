"""Decoding and preprocessing, applied identically to both images of a pair.

Random choices (crop offset, flip) come from stateless ops seeded per example, so the same
seed gives the same pixels on every run and on resume, and both halves of a pair get the
same crop and flip.
"""

import tensorflow as tf

from tfi2i import pixels
from tfi2i.config import CROPPING_MODES


def split_aligned(image):
    """Splits an A|B image into its left and right halves."""
    half = tf.shape(image)[1] // 2
    return image[:, :half], image[:, half : 2 * half]


def _resize(image, height, width):
    resized = tf.image.resize(image, [height, width], method="bicubic", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _scale_width(image, target_width, min_height):
    shape = tf.shape(image)
    height = tf.cast(target_width * shape[0] / shape[1], tf.int32)
    return _resize(image, tf.maximum(height, min_height), target_width)


def _round_to_multiple(image, base=4):
    """Resizes to the nearest multiple of `base` (at least base), as the reference's 'none' mode."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.maximum(tf.cast(tf.round(shape / base), tf.int32) * base, base)
    return _resize(image, target[0], target[1])


def _crop(images, size, seed, training):
    """The same size x size window of every image: random when training, else centred."""
    shape = tf.shape(images[0])
    # Images smaller than the crop are scaled up first, so any input works.
    scale = tf.maximum(1.0, size / tf.cast(tf.minimum(shape[0], shape[1]), tf.float32))
    new_hw = tf.cast(tf.math.ceil(tf.cast(shape[:2], tf.float32) * scale), tf.int32)
    images = [tf.cond(scale > 1.0, lambda im=im: _resize(im, new_hw[0], new_hw[1]), lambda im=im: im) for im in images]
    room = new_hw - size
    if training:
        top = tf.random.stateless_uniform([], seed, maxval=room[0] + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], seed + 1, maxval=room[1] + 1, dtype=tf.int32)
    else:
        top, left = room[0] // 2, room[1] // 2
    # A static size: the train step is traced for size x size, which runs much faster than
    # a trace for any size (measured by tools/bench.py: U-Net-256 0.64 -> 0.43 s a step).
    return [tf.ensure_shape(im[top : top + size, left : left + size], [size, size, im.shape[-1]]) for im in images]


def preprocess(images, data, seed, training):
    """Applies data.preprocess, the flip, and scaling to [-1, 1] to a list of images alike.

    `seed` is a shape [2] int tensor unique to the example; `data` is a DataConfig.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    mode = data.preprocess
    if mode == "resize_and_crop":
        images = [_resize(im, data.load_size, data.load_size) for im in images]
    elif mode in ("scale_width", "scale_width_and_crop"):
        images = [_scale_width(im, data.load_size, data.crop_size) for im in images]
    elif mode == "none":
        images = [_round_to_multiple(im) for im in images]
    if mode in CROPPING_MODES:
        images = _crop(images, data.crop_size, crop_seed, training)
    if training and data.flip:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        images = [tf.cond(flip, lambda im=im: tf.image.flip_left_right(im), lambda im=im: im) for im in images]
    return [pixels.to_unit_range(im) for im in images]
