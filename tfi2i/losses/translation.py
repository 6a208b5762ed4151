"""The view of one translation direction that a `tfi2i.losses` plugin is called with."""

import dataclasses
from typing import Callable, Optional

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Translation:
    """Tensors of one direction, [batch, height, width, channels] in [-1, 1].

    source:        the input image x.
    translated:    G(x).
    target:        the paired ground truth of x (paired models only, else None).
    reconstructed: F(G(x)), translated back (cycle models only, else None).
    output_real:   a real image y of the output domain, not paired with x (unpaired models).
    identity:      G(y) for that y: what G does to an image already in its output domain.

    Shared-latent models (UNIT) also fill:
    autoencoded:   x encoded and decoded back into its own domain (the VAE reconstruction).
    latent:        the latent mean of x, [batch, h, w, channels] (any value range).
    cycle_latent:  the latent mean of G(x), encoded by the output domain's encoder; the
                   cycle's `reconstructed` is decoded from it.

    Models that tap their generator (CUT) fill:
    features:      features(images, layers, generated=False): the list of G's activations
                   at the named `layers` when G runs on `images` (a loss declares the names
                   it taps as `feature_layers`; the model checks them before training).
                   generated=True for images G made this step (translated, identity): when
                   the model fed G a mirrored input (CUT's flip_equivariance; those fields
                   hold G's outputs mirrored back), G runs on them as it made them and the
                   activations come back mirrored into the source's orientation.

    A model fills only the optional fields some configured loss `requires`.
    """

    source: tf.Tensor
    translated: tf.Tensor
    target: Optional[tf.Tensor] = None
    reconstructed: Optional[tf.Tensor] = None
    output_real: Optional[tf.Tensor] = None
    identity: Optional[tf.Tensor] = None
    autoencoded: Optional[tf.Tensor] = None
    latent: Optional[tf.Tensor] = None
    cycle_latent: Optional[tf.Tensor] = None
    features: Optional[Callable] = None

    def require(self, field, loss_name):
        """The named tensor, or a clear error when this model does not provide it."""
        value = getattr(self, field)
        if value is None:
            raise ValueError(f"loss '{loss_name}' needs Translation.{field}, which this model does not provide")
        return value


def per_example_mean(values):
    """Mean over every axis but the batch axis: the per-example value plugins return."""
    values = tf.convert_to_tensor(values)
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)
