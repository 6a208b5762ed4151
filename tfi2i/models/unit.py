"""UNIT (Liu, Breuel, Kautz, 2017): unpaired translation through a shared latent space."""

import keras
import tensorflow as tf

from tfi2i.runtime import replica_random
from tfi2i.errors import Tfi2iError
from tfi2i.losses.translation import Translation
from tfi2i.models.base import TranslationModel


class UNIT(TranslationModel):
    """A VAE-GAN per domain, tied by a shared latent space (`tfi2i.nets.unit_nets`).

    Streams, for x of domain 1 (a2b; b2a is the mirror image):
      z = E_1(x) + eta, eta ~ N(0, I)                  (reparameterisation; z = E_1(x) at inference)
      reconstruction  G_1(z)  ->  Translation.autoencoded
      translation     G_2(z)  ->  Translation.translated, judged by D_2
      cycle           G_1(E_2(G_2(z)) + eta')  ->  Translation.reconstructed
    Objective (paper defaults, configs/unit_maps.yaml): GAN weight 10 (model.gan_loss.weight)
    plus the configured losses vae_kl 0.1, vae_l1 100, cycle_kl 0.1, cycle_l1 100. Leaving
    the cycle losses out skips the cycle stream. D and E/G are updated alternately, as in
    the paper: a discriminator step with E and G fixed, then an E/G step against the updated D.
    """

    directions = ("a2b", "b2a")
    provides = ("source", "translated", "reconstructed", "output_real", "autoencoded", "latent", "cycle_latent")

    def __init__(self, parts):
        super().__init__(parts)
        self.vae = parts.make_generator(parts.input_nc, parts.output_nc, name="vae")
        if not (hasattr(self.vae, "encode") and hasattr(self.vae, "decode")):
            raise Tfi2iError(
                "model 'unit' needs a shared-latent generator with encoders and decoders per domain; "
                "set model.generator.name=unit"
            )
        self.discriminator_a, self.discriminator_b = self.build_discriminators(parts)

    def build_discriminators(self, parts):
        """D_a and D_b. The seam for the paper's domain adaptation variant: a subclass returns
        two discriminators with tied high layers (built as the VAE shares its blocks) and adds
        its classifier's term in `discriminator_loss_terms`."""
        return (parts.make_discriminator(parts.input_nc, name="discriminator_a"),
                parts.make_discriminator(parts.output_nc, name="discriminator_b"))

    @property
    def generator_variables(self):
        return self.vae.trainable_variables  # the shared layers' variables appear once

    @property
    def discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def call(self, images, training=False):
        return self.vae(images, training=training)

    def translator(self, direction):
        """E of the source domain and G of the output domain, joined through the latent mean."""
        self.check_direction(direction)
        own, other, _ = self._direction(direction)
        encoder, generator = self.vae.encoders[own], self.vae.generators[other]
        images = keras.Input(shape=encoder.input_shape[1:], name="image")
        return keras.Model(images, generator(encoder(images)), name=f"unit_{direction}")

    def _direction(self, direction):
        """(source domain, output domain, discriminator of the output domain)."""
        if direction == "a2b":
            return "a", "b", self.discriminator_b
        return "b", "a", self.discriminator_a

    def sample_latent(self, mean, training):
        """z = mean + N(0, I) noise while training; the mean itself otherwise."""
        if not training:
            return mean
        return mean + replica_random.normal(tf.shape(mean), mean.dtype, self.seed_generator)

    def encode_and_translate(self, source, direction, training):
        """(latent mean, sampled z, translation G_out(z)) of one direction."""
        own, other, _ = self._direction(direction)
        latent = self.vae.encode(source, own, training)
        z = self.sample_latent(latent, training)
        return latent, z, self.vae.decode(z, other, training)

    def translate(self, source, output_real, direction, training):
        """One direction's Translation, with the optional streams the configured losses use."""
        own, other, _ = self._direction(direction)
        latent, z, translated = self.encode_and_translate(source, direction, training)
        autoencoded = self.vae.decode(z, own, training) if self.uses("autoencoded") else None
        reconstructed = cycle_latent = None
        if self.uses("reconstructed") or self.uses("cycle_latent"):
            cycle_latent = self.vae.encode(translated, other, training)
            reconstructed = self.vae.decode(self.sample_latent(cycle_latent, training), own, training)
        return Translation(
            source=source,
            translated=translated,
            reconstructed=reconstructed,
            output_real=output_real,
            autoencoded=autoencoded,
            latent=latent,
            cycle_latent=cycle_latent,
        )

    def generator_terms(self, translations, training):
        """Per direction: D of the output domain should judge G's translation real, and the
        configured losses should be small."""
        terms = {}
        for direction, t in translations.items():
            _, _, discriminator = self._direction(direction)
            terms[self.loss_key("g_gan", direction)] = self.gan_weight * self.gan_loss.generator(
                discriminator(t.translated, training=training)
            )
            terms.update(self.translation_loss_terms(t, direction))
        return terms

    def discriminator_loss_terms(self, fakes, reals, training):
        """Per direction: D of the output domain tells its real images from translations."""
        terms = {}
        for direction, fake in fakes.items():
            _, _, discriminator = self._direction(direction)
            real, fake = reals[direction], tf.stop_gradient(fake)
            terms.update(self.discriminator_terms(
                discriminator, real, fake,
                discriminator(real, training=training), discriminator(fake, training=training),
                self.loss_key("d_gan", direction),
            ))
        return terms

    def translations(self, real_a, real_b, training):
        """{direction: Translation} for both directions."""
        return {d: self.translate(x, y, d, training) for d, x, y in self.streams(real_a, real_b)}

    def loss_terms(self, real_a, real_b, training):
        translations = self.translations(real_a, real_b, training)
        fakes = {d: t.translated for d, t in translations.items()}
        reals = {d: t.output_real for d, t in translations.items()}
        return self.generator_terms(translations, training), self.discriminator_loss_terms(fakes, reals, training)

    def train_step(self, data):
        real_a, real_b = data
        # 1. Discriminator step(s), encoders and generators fixed: only the translations are needed.
        fakes, reals = {}, {}
        for direction, source, output_real in self.streams(real_a, real_b):
            _, _, fakes[direction] = self.encode_and_translate(source, direction, training=True)
            reals[direction] = output_real
        d_terms = self.discriminator_steps(
            self.n_critic, lambda: self.discriminator_loss_terms(fakes, reals, training=True))
        # 2. Encoder/generator step against the updated discriminators.
        with tf.GradientTape() as tape:
            g_terms = self.generator_terms(self.translations(real_a, real_b, training=True), training=True)
            g_loss = self.objective(g_terms, self.generator_optimizer)
        self.update(tape, g_loss, self.generator_variables, self.generator_optimizer)
        return self.track(g_terms, d_terms)

    def sample_columns(self, batch):
        """Per direction: x | reconstruction | translation | cycle, through the latent means."""
        real_a, real_b = batch
        columns = []
        for direction, source, _ in self.streams(real_a, real_b):
            own, other, _ = self._direction(direction)
            latent, _, translated = self.encode_and_translate(source, direction, training=False)
            cycle = self.vae.decode(self.vae.encode(translated, other), own)
            columns += [source, self.vae.decode(latent, own), translated, cycle]
        return columns
