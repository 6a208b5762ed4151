"""tfi2i's networks and pix2pix step against tools/reference_torch.py (the reference's semantics
in PyTorch), given the same weights and inputs: what tools/parity.py's learning comparison rests on."""

import os
import sys

import numpy as np
import pytest
import keras
import tensorflow as tf
import torch

from tfi2i import config as config_lib
from tfi2i.kernels.selection import building_with
from tfi2i.models import factory
from tfi2i.nets import discriminators, generators

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tools"))
import reference_torch as ref  # noqa: E402
from weight_transfer import copy_weights, weighted_layers  # noqa: E402


def agreeing_share(keras_model, torch_net, tolerance=2e-6):
    """The share of the conv kernels' weights within `tolerance` of the torch network's."""
    convs, _ = weighted_layers(keras_model)
    torch_convs = [m for m in torch_net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    differences = np.concatenate([
        np.abs(layer.get_weights()[0] - module.weight.detach().numpy().transpose(2, 3, 1, 0)).ravel()
        for layer, module in zip(convs, torch_convs)
    ])
    return float(np.mean(differences < tolerance))


def torch_output(net, x, train):
    net.train(train)
    with torch.no_grad():
        return net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)


NETWORKS = {
    "unet": (lambda norm: generators.unet_generator(3, 3, ngf=8, num_downs=6, norm=norm, dropout=False),
             lambda norm: ref.unet_generator(3, 3, 6, ngf=8, norm=norm, dropout=False), 3),
    "resnet": (lambda norm: generators.resnet_generator(3, 3, ngf=8, n_blocks=2, norm=norm),
               lambda norm: ref.resnet_generator(3, 3, ngf=8, n_blocks=2, norm=norm), 3),
    "patchgan": (lambda norm: discriminators.patchgan_discriminator(6, ndf=8, norm=norm),
                 lambda norm: ref.patchgan_discriminator(6, ndf=8, norm=norm), 6),
    # CUT's defaults: blurred down- and upsampling
    "resnet_antialias": (
        lambda norm: generators.resnet_generator(3, 3, ngf=8, n_blocks=2, norm=norm, downsampling="antialias",
                                                 upsampling="antialias"),
        lambda norm: ref.resnet_generator(3, 3, ngf=8, n_blocks=2, norm=norm, antialias=True), 3),
    "patchgan_antialias": (
        lambda norm: discriminators.patchgan_discriminator(3, ndf=8, norm=norm, downsampling="antialias"),
        lambda norm: ref.patchgan_discriminator(3, ndf=8, norm=norm, antialias=True), 3),
}


@pytest.mark.parametrize("kernel_mode", ["keras", "tuned"])
@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_networks_compute_what_the_reference_computes(network, norm, kernel_mode):
    make_keras, make_torch, channels = NETWORKS[network]
    with building_with(kernel_mode):
        keras_model = make_keras(norm)
    torch_net = make_torch(norm)
    copy_weights(keras_model, torch_net)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, channels)).astype(np.float32)
    for train in (False, True):  # running statistics, and the batch's
        expected = torch_output(torch_net, x, train)
        actual = keras_model(x, training=train).numpy()
        assert actual.shape == expected.shape
        # Outputs are small at this init; relative to their scale the difference is float noise.
        np.testing.assert_allclose(actual, expected, atol=1e-5 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("update_order, epsilon_form, agreeing, kernel_set", [
    ("discriminator_first", "paper", 0.99, "keras"),  # the defaults: the reference's step
    ("discriminator_first", "paper", 0.99, "tuned"),  # the same through the tuned kernels and FusedAdam
    ("joint", "paper", None, "keras"),                # one forward pass for both players: not it
])
def test_pix2pix_steps_update_the_weights_as_the_reference_does(tmp_path, update_order, epsilon_form, agreeing,
                                                                 kernel_set):
    """Three training steps (D first, then G against the updated D; BCE, L1 x100, Adam as
    torch.optim.Adam) from the same weights on the same batches leave the same weights,
    dropout aside. Adam moves each weight by about lr = 2e-4 a step, whatever its gradient's
    size, so a weight "agrees" within 2e-6; a few whose gradients are float noise move either
    way, hence a share."""
    keras.utils.set_random_seed(0)
    config = config_lib.load(None, [
        "model.generator.name=unet", "model.generator.params.ngf=8", "model.generator.params.dropout=false",
        "model.discriminator.params.ndf=8", "data.crop_size=32", f"train.kernels={kernel_set}",
        "train.lr_policy=constant", f"data.root={tmp_path}", f"model.params.update_order={update_order}",
        f"optimizer.epsilon_form={epsilon_form}",
    ])
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 10), factory.build_optimizer(config, 10))
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32),
                rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)) for _ in range(3)]
    model(batches[0][0])
    model.discriminator(np.concatenate(batches[0], axis=-1))

    torch_g = ref.unet_generator(3, 3, 5, ngf=8, norm="batch", dropout=False)
    torch_d = ref.patchgan_discriminator(6, ndf=8, norm="batch")
    reference = ref.Pix2Pix(torch_g, torch_d)
    for network in (model.generator, model.discriminator):
        for layer in weighted_layers(network)[1]:  # moving variances from 0: the batches' part alone
            layer.moving_variance.assign(np.zeros(layer.moving_variance.shape, np.float32))
    copy_weights(model.generator, torch_g)
    copy_weights(model.discriminator, torch_d)

    compiled = tf.function(model.train_step)
    for real_a, real_b in batches:
        logs = compiled((tf.constant(real_a), tf.constant(real_b)))
        model.reset_metrics()  # each step's own values, not running means
        theirs = reference.train_step(*(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in (real_a, real_b)))
        if agreeing:
            # Adam's first steps move each weight by about lr whatever its gradient's scale, so the
            # weights alone would miss a loss scaled wrong: the loss values must agree too.
            np.testing.assert_allclose([float(logs["g_gan"]), float(logs["l1"]), float(logs["d_gan"])],
                                       [theirs["g_gan"], 100 * theirs["g_l1"], theirs["d"]], rtol=1e-4)
    for keras_model, torch_net in ((model.generator, torch_g), (model.discriminator, torch_d)):
        share = agreeing_share(keras_model, torch_net)
        if agreeing:
            assert share >= agreeing, f"{keras_model.name}: {share:.3f} of the weights agree"
            # G's moving variances too (started at 0 above; G's are what eval-mode inference
            # reads, D's run over real and fake pairs in another order), which torch's
            # running_var averages unbiased: a biased average is n / (n - 1) off, 4 / 3 at the
            # 2 x 2 maps by the bottleneck.
            if keras_model is model.discriminator:
                continue
            _, norms = weighted_layers(keras_model)
            torch_norms = [m for m in torch_net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            for layer, module in zip(norms, torch_norms, strict=True):
                variance = layer.get_weights()[3]
                np.testing.assert_allclose(variance, module.running_var.numpy(), rtol=0.03, err_msg=layer.name)
        elif keras_model is model.generator:
            assert share < 0.9, f"{keras_model.name}: {share:.3f} agree, so the test cannot tell this step apart"


def test_pix2pix_steps_with_dropout_update_the_weights_as_the_reference_does(tmp_path, monkeypatch):
    """The step test above with the U-Net's dropout on (64 px: one dropout block), each step's
    mask drawn here and given to both sides' dropout: dropout's part in G's forward pass, in
    D's and G's updates from that one pass and in G's gradient is the reference's too. (Stock
    Keras layers: both kernel sets use Keras' Dropout, and the test above covers the tuned rest.)"""
    rng = np.random.default_rng(1)
    masks, used = {}, []

    def keras_dropout(layer, inputs, training=False):
        if not training:
            return inputs
        if layer.name not in masks:  # one mask a step, drawn at G's forward pass
            masks[layer.name] = (rng.random(inputs.shape) >= 0.5).astype(np.float32)
        used.append("keras")
        return inputs * masks[layer.name] / 0.5

    class TorchDropout(torch.nn.Module):
        def forward(self, x):
            (mask,) = masks.values()
            used.append("torch")
            return x * torch.from_numpy(mask.transpose(0, 3, 1, 2).copy()) / 0.5 if self.training else x

    monkeypatch.setattr(keras.layers.Dropout, "call", keras_dropout)
    keras.utils.set_random_seed(0)
    config = config_lib.load(None, [
        "model.generator.name=unet", "model.generator.params.ngf=8", "model.discriminator.params.ndf=8",
        "data.crop_size=64", "train.kernels=keras", "train.lr_policy=constant", f"data.root={tmp_path}",
    ])
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 10), factory.build_optimizer(config, 10))
    batches = [(rng.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32),
                rng.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)) for _ in range(3)]
    model(batches[0][0])
    model.discriminator(np.concatenate(batches[0], axis=-1))
    torch_g = ref.unet_generator(3, 3, 6, ngf=8, norm="batch", dropout=True)
    dropouts = [(parent, name) for parent in torch_g.modules() for name, child in parent.named_children()
                if isinstance(child, torch.nn.Dropout)]
    assert len(dropouts) == 1 and sum(isinstance(layer, keras.layers.Dropout) for layer in model.generator.layers) == 1
    setattr(*dropouts[0], TorchDropout())
    torch_d = ref.patchgan_discriminator(6, ndf=8, norm="batch")
    reference = ref.Pix2Pix(torch_g, torch_d)
    copy_weights(model.generator, torch_g)
    copy_weights(model.discriminator, torch_d)

    for real_a, real_b in batches:
        masks.clear(), used.clear()
        logs = model.train_step((real_a, real_b))
        model.reset_metrics()
        theirs = reference.train_step(*(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in (real_a, real_b)))
        assert used == ["keras", "torch"]  # one forward pass of G a side, through the one mask
        np.testing.assert_allclose([float(logs["g_gan"]), float(logs["l1"]), float(logs["d_gan"])],
                                   [theirs["g_gan"], 100 * theirs["g_l1"], theirs["d"]], rtol=1e-4)
    for keras_model, torch_net in ((model.generator, torch_g), (model.discriminator, torch_d)):
        share = agreeing_share(keras_model, torch_net)
        assert share >= 0.99, f"{keras_model.name}: {share:.3f} of the weights agree"


@pytest.mark.parametrize("kernel_set", ["keras", "tuned"])
def test_cyclegan_steps_update_the_weights_as_the_reference_does(tmp_path, kernel_set):
    """Three CycleGAN steps (both Gs on LSGAN + cycle x10 + identity x5 against the frozen Ds,
    then each D on real vs the pool's fake, halved) from the same weights on the same batches
    leave the same weights in all four networks, and the same losses, under both kernel sets
    (the tuned ones and FusedAdam too). The pool is still filling in three steps, so it returns
    each fake as it is on both sides."""
    keras.utils.set_random_seed(0)
    config = config_lib.load(os.path.join(os.path.dirname(__file__), os.pardir, "configs", "cyclegan_horse2zebra.yaml"), [
        "model.generator.name=resnet", "model.generator.params.ngf=8", "model.generator.params.n_blocks=2",
        "model.discriminator.params.ndf=8", "data.crop_size=32", "data.load_size=36", f"train.kernels={kernel_set}",
        "train.lr_policy=constant", f"data.root={tmp_path}",
    ])
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 10), factory.build_optimizer(config, 10))
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32),
                rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)) for _ in range(3)]
    model(batches[0][0])
    model.generator_b2a(batches[0][1])
    for discriminator in (model.discriminator_a, model.discriminator_b):
        discriminator(batches[0][0])

    # The reference's G_A is tfi2i's a2b generator; its D_A judges B (tfi2i's discriminator_b).
    pairs = [(model.generator_a2b, ref.resnet_generator(3, 3, ngf=8, n_blocks=2, norm="instance")),
             (model.generator_b2a, ref.resnet_generator(3, 3, ngf=8, n_blocks=2, norm="instance")),
             (model.discriminator_b, ref.patchgan_discriminator(3, ndf=8, norm="instance")),
             (model.discriminator_a, ref.patchgan_discriminator(3, ndf=8, norm="instance"))]
    reference = ref.CycleGAN(*(net for _, net in pairs))
    for keras_model, torch_net in pairs:
        copy_weights(keras_model, torch_net)

    for real_a, real_b in batches:
        logs = model.train_step((tf.constant(real_a), tf.constant(real_b)))
        model.reset_metrics()
        theirs = reference.train_step(*(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in (real_a, real_b)))
        np.testing.assert_allclose([float(logs["g_total"]), float(logs["d_total"])], [theirs["g"], theirs["d"]],
                                   rtol=1e-4)
    for keras_model, torch_net in pairs:
        share = agreeing_share(keras_model, torch_net)
        assert share >= 0.99, f"{keras_model.name}: {share:.3f} of the weights agree"


@pytest.mark.parametrize("kernel_set", ["keras", "tuned"])
def test_adam_follows_torch_adam_for_a_thousand_steps(kernel_set):
    """The three-step tests cannot see an update that parts from torch.optim.Adam only later
    (bias corrections, epsilon's scale, the fused kernel's rounding of 1 - beta_2): 1000 steps of
    gradients spanning eight decades leave the same weights to 1e-3 of the distance moved."""
    from tfi2i import kernels

    rng = np.random.default_rng(0)
    scales = 10.0 ** rng.uniform(-9, -1, 1024)
    gradients = ((rng.standard_normal((1000, 1024)) + 0.3) * scales).astype(np.float32)
    start = (rng.standard_normal(1024) * 0.02).astype(np.float32)
    variable = keras.Variable(start)
    optimizer = kernels.kernel_set(kernel_set).Adam(learning_rate=2e-4, beta_1=0.5, epsilon=1e-8, epsilon_form="paper")
    step = tf.function(lambda gradient: optimizer.apply_gradients([(gradient, variable)]))
    theirs = torch.nn.Parameter(torch.from_numpy(start.copy()))
    torch_adam = torch.optim.Adam([theirs], lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    for gradient in gradients:
        step(tf.constant(gradient))
        theirs.grad = torch.from_numpy(gradient)
        torch_adam.step()
    moved = np.abs(theirs.detach().numpy() - start)
    assert moved.min() > 1e-3  # every weight moved (about lr a step), whatever its gradients' scale
    np.testing.assert_array_less(np.abs(variable.numpy() - theirs.detach().numpy()), 1e-3 * moved)
