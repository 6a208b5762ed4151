"""What a built network is made of, and what input sizes it takes."""

import keras
import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.nets.antialias import BlurPool2D


def every_layer(network):
    """Each layer of `network`, descending into nested models. A wrapper such as
    SpectralNormalization comes as itself (its `.layer` is the one it wraps)."""
    for layer in network.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from every_layer(layer)


def contains(network, *layer_types):
    """Whether some layer of `network` (nested models too) is one of `layer_types`."""
    return any(isinstance(layer, layer_types) for layer in every_layer(network))


def mixes_calls(network):
    """Whether an example's output from `network` can depend on the rest of its batch (batch
    norm) or on how many calls came before (spectral norm's power iteration): then two calls
    stacked into one would not give the results of the two."""
    return contains(network, keras.layers.BatchNormalization, keras.layers.SpectralNormalization)


def _downsampling_strides(network):
    # Nested models too, e.g. UNIT's encoder inside its translator.
    for layer in every_layer(network):
        layer = getattr(layer, "layer", layer)  # look through SpectralNormalization
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
            yield layer.strides[0]
        elif isinstance(layer, BlurPool2D):
            yield layer.strides


def required_multiple(network):
    """The factor a network downsamples by: the product of its convolutions' and blur pools'
    strides."""
    multiple = 1
    for stride in _downsampling_strides(network):
        multiple *= stride
    return multiple


def smallest_input(network, multiple, channels):
    """The smallest multiple of `multiple` the network accepts: reflection padding inside
    a ResNet block, say, needs feature maps of at least 2x2 after downsampling."""
    for size in (multiple * k for k in (1, 2, 4)):
        try:
            network(tf.zeros([1, size, size, channels]), training=False)
            return size
        except tf.errors.InvalidArgumentError:
            continue
    raise Tfi2iError(f"the generator accepts no input of size {multiple} to {4 * multiple}; it cannot be exported")
