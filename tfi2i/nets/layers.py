"""Building blocks shared by the networks: padding, normalization and initialized convolutions.

Their layer classes come from `kernels.active()`: stock Keras or the CPU-tuned twins, as
`train.kernels` chose for the model being built.
"""

import keras
from keras import layers

from tfi2i import kernels
from tfi2i.errors import Tfi2iError

NORMS = ("instance", "batch", "none")

# The reference initializes every convolution with N(0, 0.02) and biases with zeros.
def kernel_init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


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
        return kernels.active().InstanceNormalization(epsilon=1e-5, name=name)
    if norm == "batch":
        return kernels.active().BatchNormalization(
            momentum=0.9,
            synchronized=True,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            name=name,
        )
    return layers.Identity(name=name)


def conv(filters, kernel_size, strides=1, padding="same", use_bias=True, spectral_norm=False, name=None):
    layer = kernels.active().Conv2D(
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


def conv_transpose(filters, kernel_size, strides=2, padding="same", use_bias=True, name=None):
    return kernels.active().Conv2DTranspose(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_init(),
        name=name,
    )


def reflection_pad(padding, name):
    """Mirrors `padding` pixels at each border (PyTorch's ReflectionPad2d)."""
    return kernels.active().ReflectionPadding2D(padding, name=name)


def residual_block(x, filters, norm, dropout, name):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm)(x)."""
    use_bias = uses_bias(norm)
    y = reflection_pad(1, f"{name}_pad1")(x)
    y = conv(filters, 3, padding="valid", use_bias=use_bias, name=f"{name}_conv1")(y)
    y = normalization(norm, f"{name}_norm1")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    if dropout:
        y = layers.Dropout(0.5, name=f"{name}_dropout")(y)
    y = reflection_pad(1, f"{name}_pad2")(y)
    y = conv(filters, 3, padding="valid", use_bias=use_bias, name=f"{name}_conv2")(y)
    y = normalization(norm, f"{name}_norm2")(y)
    return layers.Add(name=f"{name}_add")([x, y])
