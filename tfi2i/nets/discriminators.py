"""Discriminators: the PatchGAN of n_layers (Isola et al.) and the 1x1 pixel discriminator.

Both return logits (no sigmoid); the GAN loss decides how to read them.
"""

import functools

import keras
from keras import layers

from tfi2i.nets.antialias import BlurPool2D, check_downsampling
from tfi2i.nets.layers import conv, normalization, uses_bias



def patchgan_discriminator(
    input_nc, ndf=64, n_layers=3, norm="batch", spectral_norm=False, downsampling="strided",
    name="patchgan_discriminator", image_size=None,
):
    """PatchGAN: C(ndf) - C(2ndf) - ... - C(min(2**n, 8) ndf, stride 1) - 1-channel logits.

    Every layer is a 4x4 conv with 1 pixel of zero padding; the first n_layers have stride 2,
    the last two stride 1. Each output logit sees a receptive field of 16, 70 or 286 pixels
    for n_layers 1, 3 or 5 (see `receptive_field`). No norm on the first layer.

    downsampling "antialias" is the CUT paper code's default (--no_antialias off): each of the
    first n_layers convs has stride 1 and its LeakyReLU is followed by a `BlurPool2D`.
    """
    del image_size  # Fully convolutional.
    check_downsampling(downsampling, "patchgan discriminator", "model.discriminator.params")
    antialiased = downsampling == "antialias"
    use_bias = uses_bias(norm)
    inputs = keras.Input(shape=(None, None, input_nc), name="image")

    def block(x, filters, strides, index, normalize=True):
        x = layers.ZeroPadding2D(1, name=f"layer{index}_pad")(x)
        blurred = antialiased and strides == 2
        x = conv(filters, 4, 1 if blurred else strides, "valid", use_bias or not normalize, spectral_norm,
                 f"layer{index}_conv")(x)
        if normalize:
            x = normalization(norm, f"layer{index}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"layer{index}_lrelu")(x)
        return BlurPool2D(name=f"layer{index}_blurpool")(x) if blurred else x

    x = block(inputs, ndf, 2, 0, normalize=False)
    for n in range(1, n_layers):
        x = block(x, ndf * min(2**n, 8), 2, n)
    x = block(x, ndf * min(2**n_layers, 8), 1, n_layers)
    x = layers.ZeroPadding2D(1, name="head_pad")(x)
    x = conv(1, 4, 1, "valid", spectral_norm=spectral_norm, name="head_conv")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


# The reference's 'basic' discriminator: the 70x70 PatchGAN.
basic = functools.partial(patchgan_discriminator, n_layers=3)


def pixel_discriminator(input_nc, ndf=64, norm="batch", spectral_norm=False, name="pixel_discriminator",
                        image_size=None):
    """PixelGAN: 1x1 convs C(ndf) - C(2ndf) - 1, a 1x1 receptive field."""
    del image_size
    use_bias = uses_bias(norm)
    inputs = keras.Input(shape=(None, None, input_nc), name="image")
    x = conv(ndf, 1, spectral_norm=spectral_norm, name="layer0_conv")(inputs)
    x = layers.LeakyReLU(0.2, name="layer0_lrelu")(x)
    x = conv(ndf * 2, 1, use_bias=use_bias, spectral_norm=spectral_norm, name="layer1_conv")(x)
    x = normalization(norm, "layer1_norm")(x)
    x = layers.LeakyReLU(0.2, name="layer1_lrelu")(x)
    x = conv(1, 1, use_bias=use_bias, spectral_norm=spectral_norm, name="head_conv")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def receptive_field(model):
    """Receptive field in input pixels of one output unit, computed from the model's convs
    and blur pools."""
    field, jump = 1, 1
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # look through SpectralNormalization
        if isinstance(inner, layers.Conv2D):
            kernel, stride = inner.kernel_size[0], inner.strides[0]
        elif isinstance(inner, BlurPool2D):
            kernel, stride = inner.filter_size, inner.strides
        else:
            continue
        field += (kernel - 1) * jump
        jump *= stride
    return field
