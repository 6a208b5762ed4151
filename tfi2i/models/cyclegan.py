"""CycleGAN (Zhu et al., 2017): unpaired translation A <-> B with cycle consistency."""

import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.losses.translation import Translation
from tfi2i.models.base import TranslationModel
from tfi2i.models.image_pool import ImagePool
from tfi2i.nets.introspection import mixes_calls


class CycleGAN(TranslationModel):
    """Generators G: A -> B and F: B -> A; discriminators D_A (judges A) and D_B (judges B).

    Objective (reference config: LSGAN, losses cycle_l1 weight 10 and identity_l1 weight 5):
      G minimizes GAN(D_B(G(a))) + 10 |F(G(a)) - a| + 5 |G(b) - b|, and F likewise;
      D_B minimizes 0.5 * [GAN(D_B(b), real) + GAN(D_B(pool_B(G(a))), fake)], and D_A likewise.
    Cycle, identity and any other term come from the config's `losses` list, per direction
    (a2b: G's terms, b2a: F's). `pool_size` translations per domain are kept in an
    `ImagePool` for the discriminators (50 in the reference; 0 turns it off).
    """

    directions = ("a2b", "b2a")
    provides = ("source", "translated", "reconstructed", "output_real", "identity")

    def __init__(self, parts, pool_size=50):
        super().__init__(parts)
        if self.uses("identity") and parts.input_nc != parts.output_nc:
            raise Tfi2iError(
                f"identity losses feed B images to G: A -> B, which needs data.input_nc == data.output_nc "
                f"(got {parts.input_nc} and {parts.output_nc}); remove the identity loss from 'losses'"
            )
        if pool_size and parts.image_size is None:
            raise Tfi2iError(
                "the image pool stores images of one size, but data.preprocess keeps each image's own size; "
                "use a cropping data.preprocess or set model.params.pool_size=0"
            )
        self.generator_a2b = parts.make_generator(parts.input_nc, parts.output_nc, name="generator_a2b")
        self.generator_b2a = parts.make_generator(parts.output_nc, parts.input_nc, name="generator_b2a")
        self.discriminator_a = parts.make_discriminator(parts.input_nc, name="discriminator_a")
        self.discriminator_b = parts.make_discriminator(parts.output_nc, name="discriminator_b")
        # Passes whose inputs are ready together run as one call on a batch of both (`both`).
        self.stacks_passes = not any(
            mixes_calls(network) for network in
            (self.generator_a2b, self.generator_b2a, self.discriminator_a, self.discriminator_b))
        size = parts.image_size
        # Seeds apart from the model's own, so the two pools make independent choices.
        self.pool_a = ImagePool(pool_size, (size, size, parts.input_nc), seed=parts.seed + 1, name="pool_a")
        self.pool_b = ImagePool(pool_size, (size, size, parts.output_nc), seed=parts.seed + 2, name="pool_b")

    @property
    def generator_variables(self):
        return self.generator_a2b.trainable_variables + self.generator_b2a.trainable_variables

    @property
    def discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def call(self, images, training=False):
        return self.generator_a2b(images, training=training)

    def translator(self, direction):
        self.check_direction(direction)
        return self._direction(direction)[0]

    def _direction(self, direction):
        """(generator, generator back, discriminator of the output domain, its pool)."""
        if direction == "a2b":
            return self.generator_a2b, self.generator_b2a, self.discriminator_b, self.pool_b
        return self.generator_b2a, self.generator_a2b, self.discriminator_a, self.pool_a

    def translate(self, source, output_real, direction, training):
        """One direction's Translation, with the optional fields the configured losses use."""
        generator, generator_back, _, _ = self._direction(direction)
        if self.uses("identity"):
            translated, identity = self.both(generator, source, output_real, training)
        else:
            translated, identity = generator(source, training=training), None
        return Translation(
            source=source,
            translated=translated,
            reconstructed=generator_back(translated, training=training) if self.uses("reconstructed") else None,
            output_real=output_real,
            identity=identity,
        )

    def loss_terms(self, real_a, real_b, training):
        g_terms, d_terms = {}, {}
        for direction, source, output_real in self.streams(real_a, real_b):
            _, _, discriminator, pool = self._direction(direction)
            # 1. Translate, translate back, and map an output-domain image (identity).
            t = self.translate(source, output_real, direction, training)
            # 2. The generator wants its translations judged real, and the configured losses small.
            g_terms[self.loss_key("g_gan", direction)] = self.gan_weight * self.gan_loss.generator(
                discriminator(t.translated, training=training)
            )
            g_terms.update(self.translation_loss_terms(t, direction))
            # 3. The discriminator tells real images of its domain from translations, which
            #    during training come through the pool of earlier ones.
            fake = tf.stop_gradient(t.translated)
            if training:
                fake = pool(fake)
            real_logits, fake_logits = self.both(discriminator, output_real, fake, training)
            d_terms.update(self.discriminator_terms(
                discriminator, output_real, fake, real_logits, fake_logits, self.loss_key("d_gan", direction),
            ))
        return g_terms, d_terms

    def sample_columns(self, batch):
        """A | G(A) | F(G(A)) | B | F(B) | G(F(B)) for the sample grids."""
        real_a, real_b = batch
        columns = []
        for direction, source, _ in self.streams(real_a, real_b):
            generator, generator_back, _, _ = self._direction(direction)
            translated = self.infer(generator, source)
            columns += [source, translated, self.infer(generator_back, translated)]
        return columns

