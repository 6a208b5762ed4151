"""Reflection padding (PyTorch's ReflectionPad2d), which Keras lacks: `ReflectionPadding2D`
is `tf.pad(mode="REFLECT")`; `TunedReflectionPadding2D` is the same result with a gradient that
folds the border back in place, measured on the 2-core CPU reference machine (never on a GPU)."""

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="tfi2i")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by `padding` pixels mirrored at the border (the edge pixel itself
    is not repeated), with `tf.pad(mode="REFLECT")` and its gradient."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="tfi2i")
class TunedReflectionPadding2D(ReflectionPadding2D):
    """`ReflectionPadding2D` whose padded copy is made of slices and concatenations (faster than
    MirrorPad on CPU). Its gradient, left to autodiff, would be one full-size StridedSliceGrad
    per slice plus their sum: 4% of a CycleGAN step's op time on CPU. The custom gradient
    instead adds each mirrored border of the incoming gradient onto the rows and columns it came
    from, a few slices and two concatenations (forward + backward at 32x32x256, padding 1:
    1.6 -> 1.2 ms).
    """

    def call(self, x):
        if self.padding == 0:
            return x
        return reflection_pad(x, self.padding)


def reflection_pad(x, p):
    """`x` (batch, height, width, channels) padded by `p` mirrored pixels on each side."""

    @tf.custom_gradient
    def pad(x):
        def gradient(upstream):
            height, width = x.shape[1], x.shape[2]
            if height is None or width is None or min(height, width) < 2 * p + 2:
                # The fold needs disjoint border and interior rows; the op's own gradient
                # serves sizes unknown at trace time and tiny images.
                paddings = [[0, 0], [p, p], [p, p], [0, 0]]
                return tf.raw_ops.MirrorPadGrad(input=upstream, paddings=paddings, mode="REFLECT")
            return _fold_border(_fold_border(upstream, p, axis=1), p, axis=2)

        x = _mirror_border(x, p, axis=1)
        return _mirror_border(x, p, axis=2), gradient

    return pad(x)


def _span(x, start, stop, axis):
    index = [slice(None)] * 4
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _mirror_border(x, p, axis):
    # Row p mirrors to -1, row 1 to -p (the edge row itself is not repeated); likewise at the end.
    before = tf.reverse(_span(x, 1, p + 1, axis), [axis])
    after = tf.reverse(_span(x, -p - 1, -1, axis), [axis])
    return tf.concat([before, x, after], axis)


def _fold_border(upstream, p, axis):
    """The gradient of `_mirror_border`: the padded rows' gradients, reversed, added to the
    rows they mirror (1..p at the start, n-1-p..n-2 at the end) of the interior's.

    Every piece is sliced from `upstream` itself: slicing the interior first would copy the
    whole gradient once more (0.53 -> 0.43 ms for both axes at 2x34x34x256, padding 1)."""
    n = upstream.shape[axis] - 2 * p
    rows = lambda start, stop: _span(upstream, start, stop, axis)  # noqa: E731  (padded indices)
    return tf.concat([
        rows(p, p + 1),
        rows(p + 1, 2 * p + 1) + tf.reverse(rows(0, p), [axis]),
        rows(2 * p + 1, n - 1),
        rows(n - 1, n - 1 + p) + tf.reverse(rows(n + p, None), [axis]),
        rows(n - 1 + p, n + p),
    ], axis)
