"""CUT (Park, Efros, Zhang and Zhu, 2020): unpaired translation A -> B by contrastive learning
between patches of the source and of its translation; one generator, no inverse network."""

import keras
import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.losses.translation import Translation
from tfi2i.models.base import OneWayModel
from tfi2i.nets.introspection import mixes_calls
from tfi2i.nets.taps import FeatureTaps


class CUT(OneWayModel):
    """Generator G: A -> B and a discriminator D that judges B.

    Objective (paper: LSGAN, loss patch_nce weight 1 with its identity term, the paper's
    lambda_NCE and nce_idt; FastCUT: weight 10, identity off):
      G minimizes GAN(D(G(a))) + lambda * [PatchNCE(a, G(a)) + PatchNCE(b, G(b))] / 2;
      D minimizes 0.5 * [GAN(D(b), real) + GAN(D(G(a)), fake)].
    Each step updates D first, then G against the updated D, from one forward pass of G, as
    the paper's code; there is no image pool.

    Losses that tap G (`feature_layers`, read through `Translation.features`) are checked
    against G's layer names here, and a loss's own `network` (PatchNCE's projection heads) is
    built with the tapped layers' shapes, tracked by the model (so checkpointed with it) and
    trained with G's optimizer.

    `flip_equivariance` (FastCUT's, the paper code's --flip_equivariance): on a coin flip per
    training step, G translates the left-right mirrored a (and b); D judges that output as G
    made it, while the Translation holds it mirrored back into the source's orientation, and
    `features(..., generated=True)` taps G as it ran and mirrors the activations back. So
    PatchNCE asks the encoder's features of G(mirror(a)), mirrored, to match those of a.
    """

    directions = ("a2b",)
    provides = ("source", "translated", "output_real", "identity", "features")

    def __init__(self, parts, flip_equivariance=False):
        super().__init__(parts)
        self.flip_equivariance = bool(flip_equivariance)
        # Its state is checkpointed: a resumed run draws the coins the uninterrupted one would.
        self.flip_seed = keras.random.SeedGenerator() if self.flip_equivariance else None
        if self.uses("identity") and parts.input_nc != parts.output_nc:
            raise Tfi2iError(
                f"CUT's identity terms feed B images to G: A -> B, which needs data.input_nc == data.output_nc "
                f"(got {parts.input_nc} and {parts.output_nc}); turn the identity term off (patch_nce "
                f"params identity: false) or remove the identity loss"
            )
        self.generator = parts.make_generator(parts.input_nc, parts.output_nc, name="generator")
        self.discriminator = parts.make_discriminator(parts.output_nc, name="discriminator")
        self.stacks_passes = not (mixes_calls(self.generator) or mixes_calls(self.discriminator))
        self.taps = FeatureTaps(self.generator)
        for loss in self.translation_losses:
            self.taps.check(getattr(loss.fn, "feature_layers", ()), f"loss '{loss.name}'")
        self.loss_networks = [self._build_loss_network(loss.fn) for loss in self.translation_losses
                              if getattr(loss.fn, "network", None) is not None]

    def _build_loss_network(self, loss):
        """The loss's network, built with the shapes of the layers it taps."""
        layers = getattr(loss, "feature_layers", ())
        if not loss.network.built:
            loss.network.build(self.taps.shapes(layers) if layers else [])
        return loss.network

    @property
    def generator_variables(self):
        """G's and the loss networks': the generator player's."""
        variables = list(super().generator_variables)
        for network in self.loss_networks:
            variables += network.trainable_variables
        return variables

    def translate(self, real_a, real_b, training):
        """G's Translation of A, with G(B) and the taps where the configured losses use them,
        and whether G's inputs were mirrored (a scalar bool, or None without flip_equivariance)."""
        mirrored = None
        if self.flip_equivariance and training:
            mirrored = keras.random.uniform((), seed=self.flip_seed) < 0.5
        g_a, g_b = mirror_where(mirrored, real_a), mirror_where(mirrored, real_b)
        if self.uses("identity"):
            translated, identity = self.both(self.generator, g_a, g_b, training)
            identity = mirror_where(mirrored, identity)
        else:
            translated, identity = self.generator(g_a, training=training), None
        features = None
        if self.uses("features"):
            def features(images, layers, generated=False):
                if not generated or mirrored is None:
                    return self.taps(images, layers, training)
                return [mirror_where(mirrored, f) for f in self.taps(mirror_where(mirrored, images), layers, training)]
        translation = Translation(source=real_a, translated=mirror_where(mirrored, translated), output_real=real_b,
                                  identity=identity, features=features)
        return translation, mirrored

    def discriminator_loss_terms(self, real_b, fake_b, training):
        real_logits, fake_logits = self.both(self.discriminator, real_b, fake_b, training)
        return self.discriminator_terms(self.discriminator, real_b, fake_b, real_logits, fake_logits, "d_gan")

    def generator_terms(self, translation, mirrored, training):
        # D judges G's output as G made it, mirrored or not (the paper code's order).
        fake_logits = self.discriminator(mirror_where(mirrored, translation.translated), training=training)
        return {
            "g_gan": self.gan_weight * self.gan_loss.generator(fake_logits),
            **self.translation_loss_terms(translation, "a2b"),
        }

    def loss_terms(self, real_a, real_b, training):
        t, mirrored = self.translate(real_a, real_b, training)
        d_terms = self.discriminator_loss_terms(real_b, tf.stop_gradient(mirror_where(mirrored, t.translated)), training)
        return self.generator_terms(t, mirrored, training), d_terms

    def train_step(self, data):
        real_a, real_b = data
        return self.discriminator_first_step(
            lambda: self.translate(real_a, real_b, training=True),
            lambda out: self.discriminator_loss_terms(
                real_b, tf.stop_gradient(mirror_where(out[1], out[0].translated)), True),
            lambda out: self.generator_terms(*out, True),
        )

    def sample_columns(self, batch):
        """A | G(A) | B | G(B) for the sample grids."""
        real_a, real_b = batch
        return [real_a, self.infer(self.generator, real_a), real_b, self.infer(self.generator, real_b)]


def mirror_where(mirrored, images):
    """`images` [batch, height, width, channels] mirrored left-right where the scalar bool
    `mirrored` is true; as they are when it is false or None."""
    if mirrored is None:
        return images
    return tf.where(mirrored, tf.reverse(images, axis=[2]), images)
