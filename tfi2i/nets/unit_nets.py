"""UNIT's networks (Liu et al., 2017): two VAEs whose latent spaces are tied by shared layers.

Encoder of domain d:   c7s1-ngf, d(2ngf), d(4ngf)  ->  R(4ngf) x (n_blocks - n_shared)  ->  shared
Generator of domain d: shared  ->  R(4ngf) x (n_blocks - n_shared)  ->  u(2ngf), u(ngf), c1s1-nc, tanh

c7s1-k: 7x7 conv, dk: 3x3 conv stride 2, uk: 3x3 transposed conv stride 2, each with a LeakyReLU
(0.2) and no norm; Rk: residual block of two 3x3 convs with `norm`. The paper's translation nets
are 3 convs + 4 residual blocks per encoder and 4 residual blocks + 3 transposed convs per
generator, with 1 shared block on each side (the last 1x1 layer is a transposed conv there,
the same as a 1x1 conv). The encoder output is the latent mean mu; the model adds the noise.

The shared blocks are one Keras model called inside both domains' encoders (and one inside both
generators), so both domains use the very same layer objects and variables. n_shared_blocks 0
gives two unrelated VAEs of the same depth: the paper's ablation.
"""

import keras
from keras import layers

from tfi2i.errors import Tfi2iError
from tfi2i.nets.layers import conv, conv_transpose, residual_block

DOMAINS = ("a", "b")


def _residual_stack(channels, count, norm, name):
    """`count` residual blocks as one model, so that two domains can call the same layers."""
    inputs = keras.Input(shape=(None, None, channels), name="features")
    x = inputs
    for i in range(count):
        x = residual_block(x, channels, norm, dropout=False, name=f"{name}_res{i + 1}")
    return keras.Model(inputs, x, name=name)


def _encoder(input_nc, ngf, n_downsampling, private_blocks, shared, norm, name):
    inputs = keras.Input(shape=(None, None, input_nc), name="image")
    x = conv(ngf, 7, name="stem_conv")(inputs)
    x = layers.LeakyReLU(0.2, name="stem_lrelu")(x)
    for i in range(n_downsampling):
        x = conv(ngf * 2 ** (i + 1), 3, strides=2, name=f"down{i + 1}_conv")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i + 1}_lrelu")(x)
    x = _residual_stack(ngf * 2**n_downsampling, private_blocks, norm, f"{name}_blocks")(x)
    if shared is not None:
        x = shared(x)
    x = layers.Activation("linear", dtype="float32", name="latent_mean")(x)  # float32 for the KL terms
    return keras.Model(inputs, x, name=name)


def _generator(output_nc, ngf, n_downsampling, private_blocks, shared, norm, name):
    channels = ngf * 2**n_downsampling
    inputs = keras.Input(shape=(None, None, channels), name="latent")
    x = shared(inputs) if shared is not None else inputs
    x = _residual_stack(channels, private_blocks, norm, f"{name}_blocks")(x)
    for i in range(n_downsampling):
        x = conv_transpose(channels // 2 ** (i + 1), 3, name=f"up{i + 1}_deconv")(x)
        x = layers.LeakyReLU(0.2, name=f"up{i + 1}_lrelu")(x)
    x = conv(output_nc, 1, name="head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    return keras.Model(inputs, outputs, name=name)


class SharedLatentVAE(keras.Model):
    """Encoders E_a, E_b and generators G_a, G_b with shared high-level layers.

    `encode(x, domain)` gives the latent mean mu of an image of `domain` ("a" or "b");
    `decode(z, domain)` renders a latent code as an image of `domain`. Calling the model
    translates A -> B through the means: G_b(E_a(x)).
    """

    def __init__(self, input_nc, output_nc, ngf=64, n_downsampling=2, n_blocks=4, n_shared_blocks=1,
                 norm="instance", **kwargs):
        super().__init__(**kwargs)
        if not 0 <= n_shared_blocks <= n_blocks:
            raise Tfi2iError(
                f"n_shared_blocks must lie in [0, n_blocks={n_blocks}], got {n_shared_blocks}; "
                "fix model.generator.params"
            )
        self.n_downsampling = n_downsampling
        self.n_shared_blocks = n_shared_blocks
        channels = ngf * 2**n_downsampling
        private = n_blocks - n_shared_blocks
        self.shared_encoder = self.shared_generator = None
        if n_shared_blocks:
            self.shared_encoder = _residual_stack(channels, n_shared_blocks, norm, "shared_encoder")
            self.shared_generator = _residual_stack(channels, n_shared_blocks, norm, "shared_generator")
        nc = {"a": input_nc, "b": output_nc}
        self.encoders = {
            d: _encoder(nc[d], ngf, n_downsampling, private, self.shared_encoder, norm, f"encoder_{d}")
            for d in DOMAINS
        }
        self.generators = {
            d: _generator(nc[d], ngf, n_downsampling, private, self.shared_generator, norm, f"generator_{d}")
            for d in DOMAINS
        }
        self.built = True  # every part is a functional model, built with its input shape

    @property
    def shared_layers(self):
        """The networks both domains call: the encoders' last blocks and the generators' first."""
        return [net for net in (self.shared_encoder, self.shared_generator) if net is not None]

    def encode(self, images, domain, training=False):
        return self.encoders[domain](images, training=training)

    def decode(self, latent, domain, training=False):
        return self.generators[domain](latent, training=training)

    def call(self, images, training=False):
        return self.decode(self.encode(images, "a", training), "b", training)


def unit_vae(input_nc, output_nc, ngf=64, n_downsampling=2, n_blocks=4, n_shared_blocks=1, norm="instance",
             name="unit_vae", image_size=None):
    """The UNIT generator entry: a `SharedLatentVAE` for domains of input_nc and output_nc channels.

    Images need a height and width divisible by 2**n_downsampling.
    """
    del image_size  # Fully convolutional.
    return SharedLatentVAE(input_nc, output_nc, ngf, n_downsampling, n_blocks, n_shared_blocks, norm, name=name)


def unit_discriminator(input_nc, ndf=64, n_layers=5, name="unit_discriminator", image_size=None):
    """UNIT's discriminator: n_layers 3x3 stride-2 convs (ndf, 2ndf, ... doubling) with LeakyReLU
    (0.2) and no norm, then a 1x1 conv to one logit per patch."""
    del image_size
    inputs = keras.Input(shape=(None, None, input_nc), name="image")
    x = inputs
    for i in range(n_layers):
        x = conv(ndf * 2**i, 3, strides=2, name=f"layer{i}_conv")(x)
        x = layers.LeakyReLU(0.2, name=f"layer{i}_lrelu")(x)
    x = conv(1, 1, name="head_conv")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
