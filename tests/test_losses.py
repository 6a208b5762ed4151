import numpy as np
import pytest
import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.losses import Translation
from tfi2i.losses.adversarial import HingeGANLoss, LSGANLoss, VanillaGANLoss, WGANGPLoss
from tfi2i.losses.reconstruction import L1Loss, L2Loss, MixedLoss

# Two examples of 2x2 patch logits.
REAL = tf.constant([[[[2.0], [0.0]], [[1.0], [-1.0]]], [[[0.5], [0.5]], [[0.5], [0.5]]]])
FAKE = -REAL


def softplus(x):
    return np.log1p(np.exp(x))


def test_vanilla_is_bce_with_logits_per_example():
    loss = VanillaGANLoss()
    real, fake = REAL.numpy().reshape(2, -1), FAKE.numpy().reshape(2, -1)
    # BCE(logit, 1) = softplus(-logit); BCE(logit, 0) = softplus(logit).
    np.testing.assert_allclose(loss.generator(FAKE), softplus(-fake).mean(1), rtol=1e-6)
    np.testing.assert_allclose(loss.discriminator(REAL, FAKE), softplus(-real).mean(1) + softplus(fake).mean(1), rtol=1e-6)


def test_lsgan_hinge_wgan_values():
    real, fake = REAL.numpy().reshape(2, -1), FAKE.numpy().reshape(2, -1)
    np.testing.assert_allclose(LSGANLoss().generator(FAKE), ((fake - 1) ** 2).mean(1), rtol=1e-6)
    np.testing.assert_allclose(LSGANLoss().discriminator(REAL, FAKE), ((real - 1) ** 2).mean(1) + (fake**2).mean(1), rtol=1e-6)
    np.testing.assert_allclose(HingeGANLoss().discriminator(REAL, FAKE),
                               np.maximum(0, 1 - real).mean(1) + np.maximum(0, 1 + fake).mean(1), rtol=1e-6)
    np.testing.assert_allclose(HingeGANLoss().generator(FAKE), -fake.mean(1), rtol=1e-6)
    np.testing.assert_allclose(WGANGPLoss().discriminator(REAL, FAKE), fake.mean(1) - real.mean(1), rtol=1e-6)


def test_wgangp_penalty_on_a_linear_critic():
    # D(x) = sum(w * x): its gradient is w everywhere, so the penalty is gp * (|w| - 1)^2.
    w = tf.constant(np.full([1, 4, 4, 1], 0.5, np.float32))  # |w| = 0.5 * 4 = 2
    critic = lambda x, training=True: tf.reduce_sum(w * x, axis=[1, 2, 3])  # noqa: E731
    real, fake = tf.random.normal([3, 4, 4, 1]), tf.random.normal([3, 4, 4, 1])
    penalty = WGANGPLoss(gp_weight=10.0).penalty(critic, real, fake, seed=1)
    np.testing.assert_allclose(penalty, [10.0] * 3, rtol=1e-5)


def test_pixel_losses_per_example():
    target = tf.zeros([2, 2, 2, 1])
    translated = tf.concat([tf.fill([1, 2, 2, 1], 0.5), tf.fill([1, 2, 2, 1], -1.0)], axis=0)
    t = Translation(source=target, translated=translated, target=target)
    np.testing.assert_allclose(L1Loss()(t), [0.5, 1.0])
    np.testing.assert_allclose(L2Loss()(t), [0.25, 1.0])
    np.testing.assert_allclose(MixedLoss(l1_fraction=0.25)(t), [0.25 * 0.5 + 0.75 * 0.25, 1.0])
    with pytest.raises(Tfi2iError, match="l1_fraction must lie in"):
        MixedLoss(l1_fraction=2.0)


def test_pixel_loss_without_target_says_what_is_missing():
    t = Translation(source=tf.zeros([1, 2, 2, 1]), translated=tf.zeros([1, 2, 2, 1]))
    with pytest.raises(ValueError, match="needs Translation.target"):
        L1Loss()(t)
