"""pix2pix (Isola et al., 2017): a conditional GAN for paired translation A -> B."""

import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.losses.translation import Translation
from tfi2i.models.base import OneWayModel


class Pix2Pix(OneWayModel):
    """U-Net generator G: A -> B and a PatchGAN D that judges (A, B) pairs.

    Objective (paper defaults): G minimizes GAN(D(A, G(A))) + 100 * L1(G(A), B);
    D minimizes 0.5 * [GAN(D(A, B), real) + GAN(D(A, G(A)), fake)].
    The L1 term, and any other, comes from the config's `losses` list.

    update_order "discriminator_first" (the reference's): each step updates D on the pair
    (A, G(A)) and (A, B) (n_critic times), then G against the updated D, from one forward pass of G.
    "joint": both players from the same forward pass, as CycleGAN (one D pass fewer).
    """

    UPDATE_ORDERS = ("discriminator_first", "joint")

    directions = ("a2b",)
    provides = ("source", "translated", "target")
    needs_pairs = True

    def __init__(self, parts, update_order="discriminator_first"):
        super().__init__(parts)
        if update_order not in self.UPDATE_ORDERS:
            raise Tfi2iError(
                f"model.params.update_order '{update_order}' is not one of {', '.join(self.UPDATE_ORDERS)}"
            )
        self.update_order = update_order
        self.generator = parts.make_generator(parts.input_nc, parts.output_nc, name="generator")
        self.discriminator = parts.make_discriminator(parts.input_nc + parts.output_nc, name="discriminator")

    def loss_terms(self, real_a, real_b, training):
        # 1. Translate A to B.
        fake_b = self.generator(real_a, training=training)
        # 2. D judges pairs: (A, real B) should read real, (A, G(A)) fake.
        d_terms, fake_logits = self.discriminator_loss_terms(real_a, real_b, fake_b, training)
        # 3. G wants D fooled and the configured losses (L1 to the target) small.
        return self.generator_terms(real_a, real_b, fake_b, fake_logits), d_terms

    def discriminator_loss_terms(self, real_a, real_b, fake_b, training):
        """(D's objective, halved as in the reference; D's logits on the fake pair)."""
        real_pair = tf.concat([real_a, real_b], axis=-1)
        fake_pair = tf.concat([real_a, fake_b], axis=-1)
        real_logits = self.discriminator(real_pair, training=training)
        fake_logits = self.discriminator(fake_pair, training=training)
        d_terms = self.discriminator_terms(self.discriminator, real_pair, fake_pair, real_logits, fake_logits, "d_gan")
        return d_terms, fake_logits

    def generator_terms(self, real_a, real_b, fake_b, fake_logits):
        translation = Translation(source=real_a, translated=fake_b, target=real_b)
        return {
            "g_gan": self.gan_weight * self.gan_loss.generator(fake_logits),
            **self.translation_loss_terms(translation, "a2b"),
        }

    def train_step(self, data):
        if self.update_order == "joint":
            return super().train_step(data)
        real_a, real_b = data
        return self.discriminator_first_step(
            lambda: self.generator(real_a, training=True),
            lambda fake_b: self.discriminator_loss_terms(real_a, real_b, tf.stop_gradient(fake_b), True)[0],
            lambda fake_b: self.generator_terms(
                real_a, real_b, fake_b, self.discriminator(tf.concat([real_a, fake_b], axis=-1), training=True)),
        )

    def sample_columns(self, batch):
        """A | G(A) | B for the sample grids."""
        real_a, real_b = batch
        return [real_a, self.infer(self.generator, real_a), real_b]
