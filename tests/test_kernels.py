"""The CPU-tuned kernels against their stock Keras twins (outputs, gradients, statistics), and
`train.kernels` choosing between the two sets."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i import kernels
from tfi2i.kernels import selection
from tfi2i.kernels.batch_norm import BatchNormalization, TunedBatchNormalization
from tfi2i.kernels.conv import TunedConv2D
from tfi2i.kernels.instance_norm import TunedInstanceNormalization
from tfi2i.kernels.adam import Adam
from tfi2i.kernels.fused_adam import FusedAdam
from tfi2i.kernels.reflection_pad import ReflectionPadding2D, TunedReflectionPadding2D
from tfi2i.kernels.transposed_conv import TunedConv2DTranspose
from tfi2i.models import factory
from tfi2i.nets import discriminators, generators
from tfi2i.nets.introspection import every_layer


def keras_twin(ours, keras_class, x, **settings):
    """A `keras_class` layer made with `settings`, holding `ours`' weights; both built for `x`."""
    twin = keras_class(**settings)
    ours.build(x.shape)
    twin.build(x.shape)
    twin.set_weights(ours.get_weights())
    return twin


def output_and_gradients(layer, x, **call):
    """[layer(x), its gradient for x, then for each trainable weight of the layer]."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, **call)
    return [y, *tape.gradient(y, [x, *layer.trainable_weights])]


def assert_same_output_and_gradients(ours, twin, x, output_atol, gradient_atol, **call):
    """`ours` and `twin` give equal outputs and gradients for x and each weight; returns ours'
    output."""
    got, *ours_grads = output_and_gradients(ours, x, **call)
    expected, *twin_grads = output_and_gradients(twin, x, **call)
    np.testing.assert_allclose(got, expected, atol=output_atol)
    for ours_grad, twin_grad in zip(ours_grads, twin_grads, strict=True):
        np.testing.assert_allclose(ours_grad, twin_grad, atol=gradient_atol)
    return got


@pytest.mark.parametrize("shape", [(1, 8, 8, 4), (3, 5, 7, 4)])
def test_instance_norm_equals_group_norm_with_a_group_per_channel(shape):
    """Each image's channels are normalized on their own (the batch of 3 has different
    scales and offsets per image and channel), forward and backward, for a batch known at
    trace time (one kernel per image) and an unknown one (folded into the channels)."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape) * rng.uniform(0.01, 10, (shape[0], 1, 1, shape[3])) + 3, tf.float32)
    dy = tf.constant(rng.normal(size=shape), tf.float32)
    group_norm = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        expected, ours = group_norm(x), TunedInstanceNormalization(epsilon=1e-5)(x)
    np.testing.assert_allclose(ours, expected, atol=2e-6)
    np.testing.assert_allclose(tape.gradient(ours, x, dy), tape.gradient(expected, x, dy), atol=1e-6)
    # Traced for any batch and size, as exports are: the batch is folded into the channels.
    layer = TunedInstanceNormalization(epsilon=1e-5)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 4])])
    def traced(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return y, tape.gradient(y, x, dy)

    traced_y, traced_dx = traced(x)
    np.testing.assert_allclose(traced_y, expected, atol=2e-6)
    np.testing.assert_allclose(traced_dx, tape.gradient(expected, x, dy), atol=1e-6)


@pytest.mark.parametrize("height, width, use_bias, by_matmul", [
    (1, 1, True, True), (2, 2, False, True), (8, 8, True, True), (2, 5, True, True), (16, 16, True, False)])
def test_transposed_conv_equals_keras_on_both_paths(height, width, use_bias, by_matmul):
    """Small inputs go through one matrix product and an overlap-add; outputs and gradients
    (input, kernel, bias) equal keras.layers.Conv2DTranspose's with the same weights."""
    rng = np.random.default_rng(0)
    ours = TunedConv2DTranspose(5, 4, strides=2, padding="same", use_bias=use_bias, bias_initializer="random_normal")
    x = tf.constant(rng.normal(size=(2, height, width, 3)), tf.float32)
    keras_layer = keras_twin(ours, keras.layers.Conv2DTranspose, x, filters=5, kernel_size=4, strides=2,
                             padding="same", use_bias=use_bias)
    assert ours._by_matmul(x.shape) == by_matmul
    got = assert_same_output_and_gradients(ours, keras_layer, x, output_atol=1e-5, gradient_atol=1e-4)
    assert got.shape == (2, 2 * height, 2 * width, 5)


def test_other_transposed_convs_take_the_keras_op():
    x_shape = (1, 2, 2, 3)
    assert not TunedConv2DTranspose(5, 3, strides=2, padding="same")._by_matmul(x_shape)  # the ResNet's
    assert not TunedConv2DTranspose(5, 4, strides=2, padding="valid")._by_matmul(x_shape)
    assert not TunedConv2DTranspose(5, 4, strides=2, padding="same")._by_matmul((1, None, None, 3))
    # Beyond 8x8, only kernels of 16 MiB or more (the U-Net's 1024 -> 256 block), up to 32x32.
    assert TunedConv2DTranspose(256, 4, strides=2, padding="same")._by_matmul((1, 16, 16, 1024))
    assert TunedConv2DTranspose(256, 4, strides=2, padding="same")._by_matmul((1, 32, 32, 1024))
    assert not TunedConv2DTranspose(256, 4, strides=2, padding="same")._by_matmul((1, 64, 64, 1024))
    assert not TunedConv2DTranspose(128, 4, strides=2, padding="same")._by_matmul((1, 16, 16, 512))


@pytest.mark.parametrize("kernel_size, filters, height, width, use_bias, by_blocks", [
    (7, 3, 12, 10, True, True), (3, 1, 6, 8, False, True), (5, 4, 8, 8, True, True),
    (7, 3, 11, 10, True, False),  # odd height: the Keras op
])
def test_conv_equals_keras_on_both_paths(kernel_size, filters, height, width, use_bias, by_blocks):
    """A few output channels are computed on 2x2 pixel blocks; outputs and gradients (input,
    kernel, bias) equal keras.layers.Conv2D's with the same weights."""
    rng = np.random.default_rng(0)
    settings = dict(filters=filters, kernel_size=kernel_size, padding="valid", use_bias=use_bias)
    ours = TunedConv2D(**settings, bias_initializer="random_normal")
    x = tf.constant(rng.normal(size=(2, height, width, 6)), tf.float32)
    keras_layer = keras_twin(ours, keras.layers.Conv2D, x, **settings)
    assert ours._by_blocks(x.shape) == by_blocks
    got = assert_same_output_and_gradients(ours, keras_layer, x, output_atol=1e-5, gradient_atol=1e-4)
    assert got.shape == (2, height - kernel_size + 1, width - kernel_size + 1, filters)


@pytest.mark.parametrize("height, width, use_bias, by_matmul", [
    (2, 2, True, True), (4, 6, False, True), (8, 8, True, True),
    (16, 16, True, False), (7, 8, True, False),  # too big; odd height: the Keras op
])
def test_strided_conv_equals_keras_on_both_paths(height, width, use_bias, by_matmul):
    """A small input of a 4x4 stride-2 conv is one matrix product of its patches; outputs and
    gradients (input, kernel, bias) equal keras.layers.Conv2D's with the same weights."""
    rng = np.random.default_rng(0)
    settings = dict(filters=5, kernel_size=4, strides=2, padding="same", use_bias=use_bias)
    ours = TunedConv2D(**settings, bias_initializer="random_normal")
    x = tf.constant(rng.normal(size=(2, height, width, 3)), tf.float32)
    keras_layer = keras_twin(ours, keras.layers.Conv2D, x, **settings)
    assert ours._by_matmul(x.shape) == by_matmul
    got = assert_same_output_and_gradients(ours, keras_layer, x, output_atol=1e-5, gradient_atol=1e-4)
    assert got.shape == (2, (height + 1) // 2, width // 2, 5)


def test_other_convs_take_the_keras_op():
    x_shape = (1, 8, 8, 3)
    assert TunedConv2D(3, 7, padding="valid")._by_blocks(x_shape)  # the ResNet generator's head
    assert not TunedConv2D(5, 7, padding="valid")._by_blocks(x_shape)  # enough filters for the kernel
    assert not TunedConv2D(3, 4, padding="valid")._by_blocks(x_shape)  # even kernel
    assert not TunedConv2D(3, 3, padding="same")._by_blocks(x_shape)
    assert not TunedConv2D(3, 3, strides=2, padding="valid")._by_blocks(x_shape)
    assert not TunedConv2D(3, 7, padding="valid")._by_blocks((1, None, None, 3))
    assert TunedConv2D(5, 4, strides=2, padding="same")._by_matmul(x_shape)  # a U-Net's deep encoder block
    assert not TunedConv2D(5, 4, strides=2, padding="valid")._by_matmul(x_shape)  # the PatchGAN's
    assert not TunedConv2D(5, 3, strides=2, padding="same")._by_matmul(x_shape)
    assert not TunedConv2D(5, 4, strides=2, padding="same")._by_matmul((1, None, None, 3))


@pytest.mark.parametrize("padding, height, width, any_size", [
    (1, 7, 6, False), (3, 9, 8, False), (2, 6, 9, False),  # the border folded back in place
    (3, 7, 6, False), (1, 7, 6, True),  # MirrorPadGrad: too small to fold, size unknown when traced
])
def test_reflection_padding_mirrors_the_border_as_tf_pad_does(padding, height, width, any_size):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, height, width, 3)), tf.float32)
    dy = tf.constant(rng.normal(size=(2, height + 2 * padding, width + 2 * padding, 3)), tf.float32)
    pad = TunedReflectionPadding2D(padding)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3] if any_size else x.shape)])
    def padded_and_gradient(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = pad(x)
            expected = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]], mode="REFLECT")
        return ours, expected, tape.gradient(ours, x, dy), tape.gradient(expected, x, dy)

    ours, expected, our_gradient, expected_gradient = padded_and_gradient(x)
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_allclose(our_gradient, expected_gradient, atol=1e-6)


@pytest.mark.parametrize("synchronized", [False, True])
def test_batch_norm_training_pass_equals_keras(synchronized):
    """The fused training pass gives Keras' outputs and gradients, and the stock set's moving
    statistics (the variance unbiased, as torch's running_var); at inference both read them."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 5, 6, 4)) * rng.uniform(0.1, 5, 4) + 1, tf.float32)
    ours = TunedBatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=synchronized,
                              gamma_initializer="random_normal", beta_initializer="random_normal")
    expected = keras_twin(ours, BatchNormalization, x, momentum=0.9, epsilon=1e-5, synchronized=synchronized)
    assert ours._fusable(x, None)
    # Gradients for x, gamma and beta (x's are float noise around 0: up to 1.3e-5 seen on an
    # AVX2-only AMD EPYC, hence 3e-5).
    assert_same_output_and_gradients(ours, expected, x, output_atol=1e-6, gradient_atol=3e-5, training=True)
    moving_mean, moving_variance = ours.get_weights()[2:]
    assert np.abs(moving_mean).min() > 1e-3 and np.abs(moving_variance - 1).min() > 1e-3  # they moved
    np.testing.assert_allclose(moving_mean, expected.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(moving_variance, expected.moving_variance.numpy(), rtol=1e-5)
    unbiased = x.numpy().reshape(-1, 4).var(axis=0, ddof=1)
    np.testing.assert_allclose(moving_variance, 0.9 + 0.1 * unbiased, rtol=1e-5)
    np.testing.assert_allclose(ours(x, training=False), expected(x, training=False), atol=1e-6)


def built_layers(mode):
    """Every layer of a ResNet (instance norm) and a U-Net (batch norm) generator and a PatchGAN
    built under `mode`."""
    with kernels.building_with(mode):
        networks = [generators.resnet_generator(3, 3, ngf=4, n_blocks=1, norm="instance"),
                    generators.unet_generator(3, 3, ngf=4, num_downs=5, norm="batch"),
                    discriminators.patchgan_discriminator(3, ndf=4, n_layers=2)]
    return [layer for net in networks for layer in every_layer(net)]


KERAS_LAYERS = {keras.layers.Conv2D, keras.layers.Conv2DTranspose, BatchNormalization,
                keras.layers.GroupNormalization, ReflectionPadding2D}
TUNED_LAYERS = {TunedConv2D, TunedConv2DTranspose, TunedBatchNormalization, TunedInstanceNormalization,
                TunedReflectionPadding2D}


@pytest.mark.parametrize("mode, built, not_built", [("keras", KERAS_LAYERS, TUNED_LAYERS),
                                                     ("tuned", TUNED_LAYERS, KERAS_LAYERS)])
def test_each_mode_builds_the_layers_it_names(mode, built, not_built):
    layers = built_layers(mode)
    types = {type(layer) for layer in layers}
    assert built <= types, built - types
    assert not types & not_built
    # Instance norm under keras: a group per channel, no affine parameters, the reference's epsilon.
    for layer in layers:
        if isinstance(layer, keras.layers.GroupNormalization):
            channels = layer.output.shape[-1]
            assert (layer.groups, layer.center, layer.scale, layer.epsilon) == (channels, False, False, 1e-5)


@pytest.mark.parametrize("mode, adam", [("keras", Adam), ("tuned", FusedAdam)])
def test_each_mode_trains_with_its_adam(tiny_config, mode, adam):
    """keras: Keras' Adam update (kernels.adam.Adam adds only the epsilon form); tuned: the fused kernel."""
    optimizer = factory.build_optimizer(tiny_config(f"train.kernels={mode}"), steps_per_epoch=8)
    assert type(optimizer) is adam
    assert isinstance(optimizer, keras.optimizers.Adam) and optimizer.epsilon_form == "paper"


def test_auto_is_tuned_without_a_gpu_and_keras_with_one(monkeypatch):
    selection._gpu_visible.cache_clear()
    try:
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
        assert kernels.resolve("auto") == "tuned" and kernels.active() is kernels.TUNED
        selection._gpu_visible.cache_clear()
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
        assert kernels.resolve("auto") == "keras" and kernels.kernel_set("auto") is kernels.KERAS
        assert kernels.resolve("tuned") == "tuned"  # asked for by name: on any machine
    finally:
        selection._gpu_visible.cache_clear()
