"""Generators: the ResNet generator (Johnson et al.) and the U-Net (Ronneberger et al.).

Both follow the reference implementation's architectures and defaults and accept images of
any height and width (a multiple of 4 for ResNet, of 2**num_downs for U-Net).
"""

import functools
import math

import keras
from keras import layers

from tfi2i.errors import Tfi2iError
from tfi2i.nets.antialias import BilinearUpsampling2D, BlurPool2D, check_downsampling
from tfi2i.nets.layers import conv, conv_transpose, normalization, reflection_pad, residual_block, uses_bias


UPSAMPLINGS = ("transposed", "resize", "antialias")


def resnet_generator(
    input_nc, output_nc, ngf=64, n_blocks=9, norm="instance", dropout=False, downsampling="strided",
    upsampling="transposed", name="resnet_generator", image_size=None,
):
    """ResNet generator: c7s1-ngf, d(2ngf), d(4ngf), R(4ngf) x n_blocks, u(2ngf), u(ngf), c7s1-output_nc.

    c7s1-k: reflect pad 3, 7x7 conv with k filters, norm, ReLU. dk: 3x3 conv stride 2.
    Rk: residual block of two reflect-padded 3x3 convs. uk: 3x3 transposed conv stride 2.
    The last layer is a tanh, so outputs lie in [-1, 1].

    dk and uk sample the grid where the reference's do (its padding 1, and output_padding 1):
    Keras' 'same' would pad a stride-2 3x3 conv 0/1 instead of 1/1 and shift the transposed
    conv's output by a pixel.

    upsampling "resize" makes each uk a nearest-neighbour 2x resize, then a reflect-padded 3x3
    conv (Odena et al., "Deconvolution and Checkerboard Artifacts", 2016): a stride-2
    transposed conv adds its kernel's taps unevenly to even and odd pixels, which makes a
    one-pixel checkerboard cheap; the resize gives every output pixel the same taps.

    downsampling / upsampling "antialias" are the CUT paper code's defaults (its
    --no_antialias / --no_antialias_up off): each dk becomes a 3x3 conv with stride 1, norm,
    ReLU and a blur-then-subsample (`BlurPool2D`); each uk a bilinear 2x upsampling, then a
    zero-padded 3x3 conv. The layer names stay, so down1_conv is the full-resolution conv there.
    """
    del image_size  # Fully convolutional: any multiple of 4 works.
    check_downsampling(downsampling, "resnet generator", "model.generator.params")
    if upsampling not in UPSAMPLINGS:
        raise Tfi2iError(
            f"resnet generator: upsampling '{upsampling}' is not one of {', '.join(UPSAMPLINGS)}; "
            f"fix model.generator.params.upsampling"
        )
    antialiased = downsampling == "antialias"
    use_bias = uses_bias(norm)
    inputs = keras.Input(shape=(None, None, input_nc), name="image")
    x = reflection_pad(3, "stem_pad")(inputs)
    x = conv(ngf, 7, padding="valid", use_bias=use_bias, name="stem_conv")(x)
    x = normalization(norm, "stem_norm")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i, mult in enumerate((2, 4)):
        x = layers.ZeroPadding2D(1, name=f"down{i + 1}_pad")(x)
        strides = 1 if antialiased else 2
        x = conv(ngf * mult, 3, strides=strides, padding="valid", use_bias=use_bias, name=f"down{i + 1}_conv")(x)
        x = normalization(norm, f"down{i + 1}_norm")(x)
        x = layers.ReLU(name=f"down{i + 1}_relu")(x)
        if antialiased:
            x = BlurPool2D(name=f"down{i + 1}_blurpool")(x)
    for i in range(n_blocks):
        x = residual_block(x, ngf * 4, norm, dropout, name=f"res{i + 1}")
    for i, mult in enumerate((2, 1)):
        if upsampling == "resize":
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i + 1}_resize")(x)
            x = reflection_pad(1, f"up{i + 1}_pad")(x)
            x = conv(ngf * mult, 3, padding="valid", use_bias=use_bias, name=f"up{i + 1}_conv")(x)
        elif upsampling == "antialias":
            x = BilinearUpsampling2D(name=f"up{i + 1}_resize")(x)
            x = layers.ZeroPadding2D(1, name=f"up{i + 1}_pad")(x)
            x = conv(ngf * mult, 3, padding="valid", use_bias=use_bias, name=f"up{i + 1}_conv")(x)
        else:
            x = conv_transpose(ngf * mult, 3, padding="valid", use_bias=use_bias, name=f"up{i + 1}_deconv")(x)
            x = layers.Cropping2D(((1, 0), (1, 0)), name=f"up{i + 1}_crop")(x)  # 2n + 1 rows -> 2n
        x = normalization(norm, f"up{i + 1}_norm")(x)
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
    x = reflection_pad(3, "head_pad")(x)
    x = conv(output_nc, 7, padding="valid", name="head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


# The reference implementation's names for the common depths.
resnet_9blocks = functools.partial(resnet_generator, n_blocks=9)
resnet_6blocks = functools.partial(resnet_generator, n_blocks=6)


def unet_depth(image_size):
    """Downsamplings that take an image_size square image to 1x1 (8 for 256)."""
    depth = int(round(math.log2(image_size))) if image_size and image_size > 0 else 0
    if depth < 2 or 2**depth != image_size:
        raise Tfi2iError(
            f"the U-Net generator needs a power-of-two crop size to find its depth, got "
            f"{image_size}; set data.crop_size to e.g. 256 or give model.generator.params.num_downs"
        )
    return depth


def unet_generator(
    input_nc, output_nc, ngf=64, num_downs=None, norm="batch", dropout=True, skips=True,
    image_size=None, name="unet_generator",
):
    """U-Net: num_downs encoder steps C(k) down to 1x1, mirrored decoder, skip connections.

    Encoder (256x256, num_downs 8): C64-C128-C256-C512-C512-C512-C512-C512, each a 4x4
    conv with stride 2 preceded by LeakyReLU(0.2) (none on the first) and followed by norm
    (none on the first and the innermost). Decoder: ReLU, 4x4 transposed conv stride 2,
    norm, dropout 0.5 on the num_downs - 5 blocks next to the innermost; the last up-conv
    has output_nc filters and a tanh. `skips=False` drops the skip connections
    (the encoder-decoder ablation of the pix2pix paper).
    """
    if num_downs is None:
        num_downs = unet_depth(image_size)
    if num_downs < 5:
        raise Tfi2iError(
            f"the U-Net generator needs num_downs >= 5 (image size >= 32), got {num_downs}; "
            f"raise data.crop_size or model.generator.params.num_downs"
        )
    use_bias = uses_bias(norm)
    # Encoder widths from outermost to innermost: ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...
    widths = [ngf * min(2**i, 8) for i in range(num_downs)]

    inputs = keras.Input(shape=(None, None, input_nc), name="image")
    x = inputs
    features = []
    for i, filters in enumerate(widths):
        innermost, outermost = i == num_downs - 1, i == 0
        if not outermost:
            x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
        x = conv(filters, 4, strides=2, use_bias=use_bias, name=f"down{i + 1}_conv")(x)
        if not (innermost or outermost):
            x = normalization(norm, f"down{i + 1}_norm")(x)
        features.append(x)

    # Decoder: block i mirrors encoder block i and produces that block's input width.
    for i in reversed(range(num_downs)):
        outermost = i == 0
        if i < num_downs - 1 and skips:
            x = layers.Concatenate(name=f"skip{i + 1}")([features[i], x])
        x = layers.ReLU(name=f"up{i + 1}_relu")(x)
        if outermost:
            x = conv_transpose(output_nc, 4, name=f"up{i + 1}_deconv")(x)
            break
        filters = widths[i - 1]
        x = conv_transpose(filters, 4, use_bias=use_bias, name=f"up{i + 1}_deconv")(x)
        x = normalization(norm, f"up{i + 1}_norm")(x)
        # The reference puts dropout in the ngf*8 blocks between the innermost and the rest.
        if dropout and 4 <= i < num_downs - 1:
            x = layers.Dropout(0.5, name=f"up{i + 1}_dropout")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


unet_256 = functools.partial(unet_generator, num_downs=8)
unet_128 = functools.partial(unet_generator, num_downs=7)
