"""Building blocks shared by the networks: padding, normalization and initialized convolutions."""

import keras
from keras import layers

from tfi2i.errors import Tfi2iError
from tfi2i.nets.batch_norm import BatchNormalization
from tfi2i.nets.conv import Conv2D
from tfi2i.nets.instance_norm import InstanceNormalization
from tfi2i.nets.reflection_pad import ReflectionPadding2D
from tfi2i.nets.transposed_conv import Conv2DTranspose

NORMS = ("instance", "batch", "none")

# The reference initializes every convolution with N(0, 0.02) and biases with zeros.
def kernel_init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def every_layer(network):
    """Each layer of `network`, descending into nested models. A wrapper such as
    SpectralNormalization comes as itself (its `.layer` is the one it wraps)."""
    for layer in network.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from every_layer(layer)


def check_norm(norm):
    if norm not in NORMS:
        raise Tfi2iError(f"norm '{norm}' is not one of {', '.join(NORMS)}; fix the network's params.norm")


def uses_bias(norm):
    # Batch norm's own shift makes a conv bias redundant; instance norm here has no affine
    # parameters (as in the reference), so the conv keeps its bias.
    return norm != "batch"


def normalization(norm, name):
    """Instance norm (no affine, eps 1e-5, as the reference), batch norm, or identity."""
    check_norm(norm)
    if norm == "instance":
        return InstanceNormalization(epsilon=1e-5, name=name)
    if norm == "batch":
        return BatchNormalization(
            momentum=0.9,
            synchronized=True,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            name=name,
        )
    return layers.Identity(name=name)


def conv(filters, kernel_size, strides=1, padding="same", use_bias=True, spectral_norm=False, name=None):
    layer = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_init(),
        name=name,
    )
    if spectral_norm:
        return layers.SpectralNormalization(layer, name=f"{name}_sn" if name else None)
    return layer


def conv_transpose(filters, kernel_size, strides=2, use_bias=True, name=None):
    return Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=kernel_init(),
        name=name,
    )


def residual_block(x, filters, norm, dropout, name):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm)(x)."""
    use_bias = uses_bias(norm)
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = conv(filters, 3, padding="valid", use_bias=use_bias, name=f"{name}_conv1")(y)
    y = normalization(norm, f"{name}_norm1")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    if dropout:
        y = layers.Dropout(0.5, name=f"{name}_dropout")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = conv(filters, 3, padding="valid", use_bias=use_bias, name=f"{name}_conv2")(y)
    y = normalization(norm, f"{name}_norm2")(y)
    return layers.Add(name=f"{name}_add")([x, y])
