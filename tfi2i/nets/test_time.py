"""`inference.mode`: how a generator runs at test time.

    eval   dropout off, batch normalization by its moving statistics (Keras' inference mode;
           the reference's `--eval`)
    train  dropout on, and batch normalization by each image's own statistics: how the pix2pix
           paper and the reference's test.py run the generator by default

`train` is a copy of the network that shares its weights, with each BatchNormalization swapped
for `ImageStatisticsNormalization` and each Dropout for `TestTimeDropout`. It never updates the
moving statistics and never advances training's random state, and an image's output does not
depend on the other images of its batch, so it can be exported and served. A network without
batch normalization or dropout (instance-norm CycleGAN, UNIT) runs alike in both modes.
"""

import zlib

import keras

from tfi2i.errors import Tfi2iError
from tfi2i.nets.introspection import contains

INFERENCE_MODES = ("eval", "train")


class ImageStatisticsNormalization(keras.layers.Layer):
    """A BatchNormalization's scale and offset over each image's own mean and variance per
    channel (over height and width): what that layer computes in training for a batch of one
    image. Reads the layer's variables; updates nothing."""

    def __init__(self, batch_norm, **kwargs):
        super().__init__(name=f"{batch_norm.name}_image_statistics", dtype=batch_norm.dtype_policy, **kwargs)
        self.batch_norm = batch_norm

    def call(self, x, training=None, mask=None):  # the replaced layer's call arguments, unused
        norm = self.batch_norm
        mean, variance = keras.ops.moments(x, axes=[1, 2], keepdims=True)
        scale = keras.ops.rsqrt(variance + norm.epsilon)
        if norm.gamma is not None:
            scale = scale * keras.ops.cast(norm.gamma, x.dtype)
        normalized = (x - mean) * scale
        return normalized + keras.ops.cast(norm.beta, x.dtype) if norm.beta is not None else normalized


class TestTimeDropout(keras.layers.Layer):
    """Dropout that is on at inference too, drawing from a random state of its own, seeded
    from the layer's name: a process's outputs repeat from run to run, and making one draws
    nothing from the global seed that training's random state comes from."""

    def __init__(self, dropout, **kwargs):
        super().__init__(name=f"{dropout.name}_at_test_time", dtype=dropout.dtype_policy, **kwargs)
        self.rate = dropout.rate
        self.noise_shape = dropout.noise_shape
        seed = dropout.seed if dropout.seed is not None else zlib.crc32(dropout.name.encode("utf-8"))
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):  # on whatever `training` says
        return keras.random.dropout(x, self.rate, noise_shape=self.noise_shape, seed=self.seed_generator)


def _swapped(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return ImageStatisticsNormalization(layer)
    if isinstance(layer, keras.layers.Dropout):
        return TestTimeDropout(layer)
    return layer  # shared: the copy reads the trained weights


def has_dropout(network):
    return contains(network, keras.layers.Dropout, TestTimeDropout)


def for_mode(network, mode):
    """`network` as inference `mode` runs it (see the module's docstring)."""
    if mode not in INFERENCE_MODES:
        raise Tfi2iError(f"inference mode '{mode}' is not one of {', '.join(INFERENCE_MODES)}; pick one of those")
    if mode == "eval" or not contains(network, keras.layers.BatchNormalization, keras.layers.Dropout):
        return network
    try:
        return keras.models.clone_model(network, clone_function=_swapped, recursive=True)
    except ValueError as error:  # a subclassed network: its layers are not a graph to rewire
        raise Tfi2iError(
            f"network '{network.name}' cannot run in inference mode 'train' ({str(error).splitlines()[0][:120]}); "
            f"use inference mode 'eval'"
        ) from None


class TestTimeNetworks:
    """A model's networks as one inference mode runs them, each copied once. A plain object,
    so that a Keras model holding it does not track the copies' variables (its checkpoint
    layout stays the same)."""

    def __init__(self, mode):
        self.mode = mode
        self._copies = {}

    def __call__(self, network):
        if id(network) not in self._copies:
            self._copies[id(network)] = for_mode(network, self.mode)
        return self._copies[id(network)]
