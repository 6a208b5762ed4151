"""GAN objectives, registered in `tfi2i.gan_losses`.

Each reads discriminator logits of any shape ([batch, h, w, 1] for a PatchGAN) and
returns one value per example: the mean over that example's patches.
"""

import keras
import tensorflow as tf

from tfi2i.runtime import replica_random
from tfi2i.losses.translation import per_example_mean


class GANLoss:
    """Base class: generator and discriminator terms, an optional gradient penalty, and an
    optional constraint on the discriminator's weights.

    `discriminator_constraint`, when not None, is a Keras constraint (a callable on a
    variable's value) that the optimizer applies to every discriminator variable after each
    of its updates.
    """

    has_penalty = False
    discriminator_constraint = None

    def generator(self, fake_logits):
        raise NotImplementedError

    def discriminator(self, real_logits, fake_logits):
        raise NotImplementedError

    def penalty(self, discriminator, real, fake, seed):
        """Extra per-example discriminator term that needs the network; called only if has_penalty."""
        raise NotImplementedError


def _bce(logits, label):
    labels = tf.fill(tf.shape(logits), tf.cast(label, logits.dtype))
    return per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


class VanillaGANLoss(GANLoss):
    """Binary cross-entropy on logits (Goodfellow et al.), non-saturating for G; pix2pix's default."""

    def generator(self, fake_logits):
        return _bce(fake_logits, 1.0)

    def discriminator(self, real_logits, fake_logits):
        return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


class LSGANLoss(GANLoss):
    """Least squares (Mao et al.): real -> 1, fake -> 0; CycleGAN's default."""

    def generator(self, fake_logits):
        return per_example_mean(tf.square(fake_logits - 1.0))

    def discriminator(self, real_logits, fake_logits):
        return per_example_mean(tf.square(real_logits - 1.0)) + per_example_mean(tf.square(fake_logits))


class HingeGANLoss(GANLoss):
    """Hinge loss (Lim & Ye; Miyato et al.)."""

    def generator(self, fake_logits):
        return -per_example_mean(fake_logits)

    def discriminator(self, real_logits, fake_logits):
        return per_example_mean(tf.nn.relu(1.0 - real_logits)) + per_example_mean(tf.nn.relu(1.0 + fake_logits))


class ClipWeights(keras.constraints.Constraint):
    """Clips every value to [-clip, clip]."""

    def __init__(self, clip):
        self.clip = float(clip)

    def __call__(self, w):
        return keras.ops.clip(w, -self.clip, self.clip)

    def get_config(self):
        return {"clip": self.clip}


class WassersteinLoss(GANLoss):
    """The critic's estimate of the Wasserstein distance: D maximizes D(real) - D(fake)."""

    def generator(self, fake_logits):
        return -per_example_mean(fake_logits)

    def discriminator(self, real_logits, fake_logits):
        return per_example_mean(fake_logits) - per_example_mean(real_logits)


class WGANLoss(WassersteinLoss):
    """WGAN with weight clipping (Arjovsky et al.): after every discriminator update each of
    its weights is clipped to [-clip, clip] (the paper: clip 0.01, with `model.n_critic: 5`
    discriminator updates per generator update)."""

    def __init__(self, clip=0.01):
        if not clip > 0:
            raise ValueError(f"clip must be greater than 0, not {clip}")
        self.clip = float(clip)
        self.discriminator_constraint = ClipWeights(self.clip)


class WGANGPLoss(WassersteinLoss):
    """Wasserstein loss with gradient penalty (Gulrajani et al.): lambda (||grad D(x_hat)|| - 1)^2.

    x_hat mixes real and fake with one uniform weight per example, as in the paper. The
    models scale the penalty with the rest of D's objective (model.discriminator_loss_weight),
    so it weighs gp_weight against the Wasserstein term, as in the paper, whatever that weight.
    """

    has_penalty = True

    def __init__(self, gp_weight=10.0):
        self.gp_weight = float(gp_weight)

    def penalty(self, discriminator, real, fake, seed):
        batch = tf.shape(real)[0]
        alpha = replica_random.uniform(tf.stack([batch, 1, 1, 1]), real.dtype, seed)
        mixed = alpha * real + (1.0 - alpha) * tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            logits = discriminator(mixed, training=True)
        grads = tape.gradient(logits, mixed)
        norms = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [batch, -1])), axis=1) + 1e-12)
        return self.gp_weight * tf.square(norms - 1.0)
