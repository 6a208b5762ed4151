"""WGAN with weight clipping and n_critic discriminator updates per generator update, in every
model; the gradient penalty scaled with the rest of the discriminator's objective."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import built_model
from tfi2i.data import folders, pipeline
from tfi2i.losses.adversarial import WGANGPLoss, WGANLoss


def first_batch(config):
    if config.data.layout == "unaligned":
        files = folders.find_unpaired(config.data.root, "train")
    else:
        files = folders.find_paired(config.data.root, "aligned", "train")
    return next(iter(pipeline.training_stream(files, config.data, 0, config.train.batch_size)))


@pytest.fixture(params=["pix2pix", "cyclegan", "unit"])
def make_config(request, tiny_config, tiny_cyclegan_config, tiny_unit_config):
    return {"pix2pix": tiny_config, "cyclegan": tiny_cyclegan_config, "unit": tiny_unit_config}[request.param]


def test_wgan_clips_every_discriminator_weight_after_each_update(make_config):
    clip = 0.005
    config = make_config("model.gan_loss={name: wgan, params: {clip: 0.005}}", "model.n_critic=3")
    model = built_model(config)
    # N(0, 0.02) kernels and N(1, 0.02) norm scales start well outside the clip.
    assert max(float(np.abs(v.numpy()).max()) for v in model.discriminator_variables) > 10 * clip
    batch = first_batch(config)
    g_before = [v.numpy().copy() for v in model.generator_variables]
    for step in range(1, 3):
        logs = model.train_step(batch)
        for v in model.discriminator_variables:
            assert float(np.abs(v.numpy()).max()) <= clip + 1e-7, v.path
        # n_critic discriminator updates, one generator update, each step.
        assert int(model.discriminator_optimizer.iterations) == 3 * step
        assert int(model.generator_optimizer.iterations) == step
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any((v.numpy() != b).any() for v, b in zip(model.generator_variables, g_before))


def test_n_critic_is_the_discriminator_updates_per_step(tiny_config):
    """Each of the n_critic updates moves D: three updates leave D elsewhere than one."""
    batch = first_batch(tiny_config())
    weights = {}
    for n in (1, 3):
        tf.keras.utils.set_random_seed(0)
        model = built_model(tiny_config(f"model.n_critic={n}"))
        model.train_step(batch)
        weights[n] = [v.numpy() for v in model.discriminator_variables]
        assert int(model.discriminator_optimizer.iterations) == n
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(weights[1], weights[3]))


def test_wgan_losses_on_fixed_logits():
    real, fake = tf.constant([[2.0, 4.0]]), tf.constant([[1.0, -1.0]])
    for loss in (WGANLoss(), WGANGPLoss()):
        np.testing.assert_allclose(loss.discriminator(real, fake).numpy(), [0.0 - 3.0])
        np.testing.assert_allclose(loss.generator(fake).numpy(), [0.0])
    assert WGANLoss(clip=0.1).discriminator_constraint(tf.constant([-1.0, 0.05, 3.0])).numpy().tolist() == \
        pytest.approx([-0.1, 0.05, 0.1])


def test_gradient_penalty_keeps_its_weight_against_the_wasserstein_term(tiny_config):
    """discriminator_loss_weight scales D's whole objective: the penalty's ratio to the GAN
    term is the same at weight 0.5 and 1 (WGAN-GP's lambda, as in the paper)."""
    batch = first_batch(tiny_config())
    ratios = []
    for weight in (0.5, 1.0):
        tf.keras.utils.set_random_seed(0)
        config = tiny_config("model.gan_loss.name=wgangp", f"model.discriminator_loss_weight={weight}",
                             "model.params={update_order: joint}", "train.kernels=keras")
        model = built_model(config)
        _, d_terms = model.loss_terms(*batch, training=True)
        ratios.append(float(tf.reduce_mean(d_terms["d_gan_penalty"]) / tf.reduce_mean(d_terms["d_gan"])))
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-4)
