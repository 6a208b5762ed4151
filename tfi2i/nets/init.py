"""`model.init`: the reference's weight initializations (its --init_type and --init_gain),
applied to any built network, plugins' included, as the reference's init_weights applies them
to a built module.

Every convolution, transposed convolution and dense kernel is drawn again and its bias set to
zero; batch-norm scales are drawn from N(1, gain) and their offsets set to zero.

    normal       N(0, gain)                                          (the built-ins' own: gain 0.02)
    xavier       N(0, gain * sqrt(2 / (fan_in + fan_out)))            (torch xavier_normal_)
    kaiming      N(0, sqrt(2 / fan_in)), gain unused                 (torch kaiming_normal_, a=0, fan_in)
    orthogonal   an orthogonal matrix times gain                     (torch orthogonal_)

Fans are Keras' (kernel height x width x channels), which are PyTorch's for convolutions and
for transposed convolutions alike.
"""

import keras

from tfi2i.errors import Tfi2iError
from tfi2i.nets.introspection import every_layer

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def initializer(init_type, gain):
    """The Keras initializer of one init type, seeded from Keras' global seed
    (keras.utils.set_random_seed, which training sets from train.seed) when it is made."""
    if init_type == "normal":
        return keras.initializers.RandomNormal(0.0, gain)
    if init_type == "xavier":
        return keras.initializers.VarianceScaling(gain**2, "fan_avg", "untruncated_normal")
    if init_type == "kaiming":
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    if init_type == "orthogonal":
        return keras.initializers.Orthogonal(gain)
    raise Tfi2iError(f"model.init.type '{init_type}' is not one of {', '.join(INIT_TYPES)}; fix model.init.type")


def _weighted_layers(network):
    for layer in every_layer(network):
        layer = getattr(layer, "layer", layer)  # through SpectralNormalization to the conv it wraps
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)):
            yield "kernel", layer
        elif isinstance(layer, keras.layers.BatchNormalization):
            yield "norm", layer


def initialize(network, init_type, gain):
    """Draws `network`'s weights again as `init_type` with `gain`; returns the network."""
    # One initializer per weight: an unseeded Keras initializer draws its seed once, so one
    # instance gives two weights of one shape the same values, and a smaller weight the first
    # values of a larger one.
    for kind, layer in _weighted_layers(network):
        if kind == "kernel":
            layer.kernel.assign(initializer(init_type, gain)(layer.kernel.shape, layer.kernel.dtype))
            if layer.bias is not None:
                layer.bias.assign(keras.ops.zeros_like(layer.bias))
        else:
            if layer.gamma is not None:
                layer.gamma.assign(keras.initializers.RandomNormal(1.0, gain)(layer.gamma.shape, layer.gamma.dtype))
            if layer.beta is not None:
                layer.beta.assign(keras.ops.zeros_like(layer.beta))
    return network
