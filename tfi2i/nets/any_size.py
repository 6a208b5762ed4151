"""A translator network run on images of any height and width: mirrored up to the sizes it
takes, translated, cropped back. Graph code, so exports trace it into their signatures."""

import tensorflow as tf

from tfi2i.nets import test_time
from tfi2i.nets.introspection import required_multiple, smallest_input


def _mirror_pad(images, axis, amount, size):
    paddings = [[0, 0]] * 4
    paddings[axis] = [0, amount]
    return tf.pad(images, paddings, "REFLECT" if size > 1 else "SYMMETRIC")


def _grow_static(images, axis, target):
    """_grow for a side known when tracing: plain pads, no loop (a fixed-size LiteRT model
    has no kernel for the loop's shape checks)."""
    size = images.shape[axis]
    while size < target:
        amount = min(target - size, max(size - 1, 1))
        images, size = _mirror_pad(images, axis, amount, size), size + amount
    return images


def _grow(images, axis, target):
    """Mirrors the far border of `axis` until it is `target` long (a 1-pixel side repeats)."""

    def step(x):
        size = tf.shape(x)[axis]
        amount = tf.minimum(target - size, tf.maximum(size - 1, 1))
        paddings = tf.tensor_scatter_nd_update(tf.zeros([4, 2], tf.int32), [[axis, 1]], [amount])
        grown = tf.cond(size > 1, lambda: tf.pad(x, paddings, "REFLECT"), lambda: tf.pad(x, paddings, "SYMMETRIC"))
        return tf.ensure_shape(grown, invariant)

    invariant = tf.TensorShape([None, None, None, images.shape[-1]])
    return tf.while_loop(lambda x: tf.shape(x)[axis] < target, step, [images], shape_invariants=[invariant])[0]


def translate_any_size(network, images, multiple, smallest):
    """Pads H and W by reflection up to a multiple of `multiple` and at least `smallest`,
    translates, crops back."""
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None:  # a fixed size: the pads are known now
        target = lambda n: (max(n, smallest) + multiple - 1) // multiple * multiple  # noqa: E731
        padded = _grow_static(_grow_static(images, 1, target(height)), 2, target(width))
    else:
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        target = lambda n: (tf.maximum(n, smallest) + multiple - 1) // multiple * multiple  # noqa: E731
        padded = _grow(_grow(images, 1, target(height)), 2, target(width))
    return network(padded, training=False)[:, :height, :width, :]


class AnySizeTranslator:
    """A translator network (a model's `translator(direction)`) as a function float32
    [N, H, W, C] in [-1, 1] -> float32 [N, H, W, C'] for any H and W, run as inference
    `mode` runs it (tfi2i.nets.test_time).

    The traced function reads the network's variables, so it sees every later update."""

    def __init__(self, network, mode="eval"):
        self.mode = mode
        self.network = test_time.for_mode(network, mode)
        self.input_channels = network.input_shape[-1]
        self.output_channels = network.output_shape[-1]
        self.multiple = required_multiple(network)
        self.smallest = smallest_input(network, self.multiple, self.input_channels)
        self._translate = tf.function(self.translate, reduce_retracing=True)

    def translate(self, images):
        """The graph code: what an export's signatures trace."""
        return translate_any_size(self.network, images, self.multiple, self.smallest)

    def __call__(self, images):
        return self._translate(tf.convert_to_tensor(images, tf.float32))
