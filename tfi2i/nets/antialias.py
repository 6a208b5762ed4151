"""Anti-aliased sampling (Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML
2019), the CUT paper code's default in its generator and PatchGAN.

A stride-2 convolution samples its output on every other pixel with nothing to stop the
frequencies above the new Nyquist limit from folding back as aliases; `BlurPool2D` removes
them first. The paper code's upsampling twin, a [1, 3, 3, 1] transposed blur with stride 2
over replicated borders, is bilinear 2x upsampling with half-pixel centres:
`BilinearUpsampling2D`. tests/test_reference_parity.py checks both against the paper code's
semantics.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from tfi2i.errors import Tfi2iError

# How the networks that offer it sample down: stride-2 convolutions, or stride 1 and a blur pool.
DOWNSAMPLINGS = ("strided", "antialias")


def check_downsampling(downsampling, network, params_key):
    if downsampling not in DOWNSAMPLINGS:
        raise Tfi2iError(
            f"{network}: downsampling '{downsampling}' is not one of {', '.join(DOWNSAMPLINGS)}; "
            f"fix {params_key}.downsampling"
        )


def binomial_filter(size):
    """The size x size binomial blur ([1, 2, 1] outer itself for 3), summing to 1."""
    row = np.array([math.comb(size - 1, k) for k in range(size)], np.float64)
    square = np.outer(row, row)
    return square / square.sum()


@keras.saving.register_keras_serializable(package="tfi2i")
class BlurPool2D(layers.Layer):
    """Reflect-pads, blurs each channel with a fixed binomial filter and keeps every
    `strides`-th pixel: (n, h, w, c) -> (n, ceil(h / strides), ceil(w / strides), c).

    The filter is a constant, not a weight: nothing here trains, and `model.init` (which
    draws convolution kernels again) leaves it alone.
    """

    def __init__(self, filter_size=3, strides=2, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= int(filter_size) <= 7:
            raise ValueError(f"BlurPool2D filter_size must be 1 to 7, got {filter_size}")
        self.filter_size = int(filter_size)
        self.strides = int(strides)
        # The reference pads (size - 1) // 2 before and size // 2 after on each axis.
        self.pads = ((self.filter_size - 1) // 2, self.filter_size // 2)

    def build(self, input_shape):
        channels = input_shape[-1]
        square = binomial_filter(self.filter_size)
        self._filter = np.tile(square[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)

    def call(self, x):
        x = keras.ops.pad(x, [[0, 0], self.pads, self.pads, [0, 0]], mode="reflect")
        kernel = keras.ops.cast(self._filter, x.dtype)
        return keras.ops.depthwise_conv(x, kernel, strides=self.strides, padding="valid")

    def compute_output_shape(self, input_shape):
        shrink = lambda n: None if n is None else -(-n // self.strides)  # noqa: E731
        b, h, w, c = input_shape
        return (b, shrink(h), shrink(w), c)

    def get_config(self):
        return {**super().get_config(), "filter_size": self.filter_size, "strides": self.strides}


@keras.saving.register_keras_serializable(package="tfi2i")
class BilinearUpsampling2D(layers.Layer):
    """Bilinear 2x upsampling with half-pixel centres and clamped borders (TensorFlow's
    resize): (n, h, w, c) -> (n, 2h, 2w, c), in the input's dtype.

    Keras' `UpSampling2D(interpolation="bilinear")` computes the same, but sizes its output
    through `keras.ops.image.resize`, which checks the size in Python: a graph traced with
    unknown height and width (an export that takes any size) fails there.
    """

    def call(self, x):
        size = 2 * tf.shape(x)[1:3]
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)

    def compute_output_shape(self, input_shape):
        double = lambda n: None if n is None else 2 * n  # noqa: E731
        b, h, w, c = input_shape
        return (b, double(h), double(w), c)
