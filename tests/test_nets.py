import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i import kernels
from tfi2i.errors import Tfi2iError
from tfi2i.nets import discriminators, generators, introspection
from tfi2i.nets.antialias import BilinearUpsampling2D, BlurPool2D


@pytest.mark.parametrize("size", [32, 64, 256])
def test_generator_output_shapes(size):
    x = tf.random.uniform([1, size, size, 3], -1, 1)
    for net in (
        generators.resnet_generator(3, 1, ngf=4, n_blocks=1),
        generators.unet_generator(3, 1, ngf=4, image_size=size),
        generators.unet_generator(3, 1, ngf=4, image_size=size, skips=False),
    ):
        y = net(x)
        assert y.shape == (1, size, size, 1)
        assert float(tf.reduce_max(tf.abs(y))) <= 1.0  # tanh output


@pytest.mark.parametrize("size", [32, 100])
def test_antialiased_resnet_keeps_the_image_size(size):
    net = generators.resnet_generator(3, 3, ngf=4, n_blocks=1, downsampling="antialias", upsampling="antialias")
    assert net(tf.zeros([1, size, size, 3])).shape == (1, size, size, 3)
    down1 = keras.Model(net.input, net.get_layer("down1_conv").output)  # stride 1: the input's resolution
    assert down1(tf.zeros([1, size, size, 3])).shape[1:3] == (size, size)
    assert net.count_params() == generators.resnet_generator(3, 3, ngf=4, n_blocks=1).count_params()
    assert introspection.required_multiple(net) == 4  # the blur pools' strides, the convs' now 1


@pytest.mark.parametrize("size, n_layers, patches", [(32, 3, 2), (64, 3, 6), (256, 3, 30), (256, 1, 126), (64, 2, 14)])
def test_patchgan_output_shapes(size, n_layers, patches):
    net = discriminators.patchgan_discriminator(6, ndf=4, n_layers=n_layers)
    assert net(tf.zeros([2, size, size, 6])).shape == (2, patches, patches, 1)


def test_blur_pool_stops_the_highest_frequency_aliasing_to_a_flat_image():
    """Subsampling a one-pixel checkerboard every other pixel keeps one colour of it (it
    aliases to a constant); blurring with [1, 2, 1] first removes it, borders included."""
    rows, cols = np.indices((9, 10))
    checkerboard = np.where((rows + cols) % 2 == 0, 1.0, -1.0).astype(np.float32)[None, :, :, None]
    checkerboard = np.concatenate([checkerboard, np.full_like(checkerboard, 0.25)], axis=-1)  # and a flat channel
    pooled = BlurPool2D()(checkerboard).numpy()
    assert pooled.shape == (1, 5, 5, 2)  # ceil(9 / 2), ceil(10 / 2)
    np.testing.assert_allclose(pooled[..., 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(pooled[..., 1], 0.25, atol=1e-6)  # the filter sums to 1
    np.testing.assert_array_equal(checkerboard[:, ::2, ::2, 0], 1.0)


@pytest.mark.parametrize("layer_class, size", [(BlurPool2D, 4), (BilinearUpsampling2D, 16)])
def test_antialiased_sampling_runs_in_the_compute_dtype_at_any_size(layer_class, size):
    layer = layer_class(dtype="mixed_bfloat16")
    assert layer(tf.ones([1, 8, 8, 3], tf.bfloat16)).dtype == tf.bfloat16
    assert not layer.weights
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3], tf.bfloat16)])
    assert traced(tf.ones([2, 8, 8, 3], tf.bfloat16)).shape == (2, size, size, 3)


@pytest.mark.parametrize("size", [32, 64, 256])
def test_pixel_discriminator_keeps_resolution(size):
    net = discriminators.pixel_discriminator(3, ndf=4)
    assert net(tf.zeros([1, size, size, 3])).shape == (1, size, size, 1)


@pytest.mark.parametrize("n_layers, field", [(1, 16), (3, 70), (5, 286)])
def test_patchgan_receptive_field(n_layers, field):
    net = discriminators.patchgan_discriminator(3, ndf=2, n_layers=n_layers)
    assert discriminators.receptive_field(net) == field


@pytest.mark.parametrize("downsampling, field", [("strided", 70), ("antialias", 84)])
def test_receptive_field_matches_gradient_support(downsampling, field):
    # Measured, not counted: the input pixels that move one output logit span 70 pixels (84
    # with the blurs, each 3 taps wide before its stride).
    net = discriminators.patchgan_discriminator(1, ndf=2, n_layers=3, norm="none", downsampling=downsampling)
    assert discriminators.receptive_field(net) == field
    x = tf.random.normal([1, 160, 160, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        centre = net(x)[0, 8, 8, 0]
    support = np.argwhere(np.abs(tape.gradient(centre, x)[0, ..., 0].numpy()) > 0)
    assert support[:, 0].max() - support[:, 0].min() + 1 == field
    assert support[:, 1].max() - support[:, 1].min() + 1 == field


def trainable_millions(net):
    return round(sum(int(np.prod(w.shape)) for w in net.trainable_weights) / 1e6, 3)


def test_parameter_counts_match_the_reference():
    # The reference implementation prints these totals (in millions, 3 decimals) for the
    # same networks; buffers such as batch-norm running statistics are not counted there.
    assert trainable_millions(generators.unet_256(3, 3)) == 54.414
    assert trainable_millions(generators.resnet_9blocks(3, 3)) == 11.378
    assert trainable_millions(discriminators.basic(6)) == 2.769


@pytest.mark.parametrize("mode", ["keras", "tuned"])
def test_instance_norm_has_no_affine_parameters(mode):
    with kernels.building_with(mode):
        net = generators.resnet_generator(3, 3, ngf=4, n_blocks=1, norm="instance")
    norms = [layer for layer in net.layers if "_norm" in layer.name]
    assert len(norms) == 7 and all(not layer.weights for layer in norms)


def test_unet_dropout_blocks_and_skip_ablation():
    net = generators.unet_generator(3, 3, ngf=4, num_downs=8)
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in net.layers) == 3  # num_downs - 5
    no_skips = generators.unet_generator(3, 3, ngf=4, num_downs=8, skips=False)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in no_skips.layers)
    assert no_skips.count_params() < net.count_params()


def test_spectral_norm_wraps_discriminator_convs():
    net = discriminators.patchgan_discriminator(3, ndf=4, n_layers=2, spectral_norm=True)
    wrapped = [layer for layer in net.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 4
    assert discriminators.receptive_field(net) == 34


def test_weights_are_initialized_normal_002():
    net = generators.unet_generator(3, 3, ngf=32, num_downs=5)
    kernel = net.get_layer("down2_conv").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002


def test_bad_norm_and_size_are_one_line_errors():
    with pytest.raises(Tfi2iError, match="norm 'layer' is not one of instance, batch, none"):
        generators.resnet_generator(3, 3, norm="layer")
    with pytest.raises(Tfi2iError, match="power-of-two crop size.*got 100"):
        generators.unet_generator(3, 3, image_size=100)

def test_resize_upsampling_spreads_every_tap_alike():
    """upsampling: resize gives each 2x2 block of the output the same response to a flat
    input, where a stride-2 transposed conv alternates between even and odd pixels."""
    def last_upsampling_output(upsampling):
        keras.utils.set_random_seed(0)
        model = generators.resnet_generator(3, 3, ngf=4, n_blocks=1, norm="none", upsampling=upsampling)
        name = "up2_conv" if upsampling == "resize" else "up2_crop"
        probe = keras.Model(model.input, model.get_layer(name).output)
        # A flat image: flat features, but for the zero padding of the stride-2 convs near the borders.
        return probe(np.full((1, 128, 128, 3), 0.5, np.float32)).numpy()[0, 48:80, 48:80]

    resized, transposed = last_upsampling_output("resize"), last_upsampling_output("transposed")
    assert resized.shape == transposed.shape == (32, 32, 4)
    def alternation(x):  # even rows against odd rows of the interior, relative to the output's size
        return np.abs(x[0::2] - x[1::2]).max() / np.abs(x).max()

    assert alternation(resized) < 1e-5
    assert alternation(transposed) > 0.1
    with pytest.raises(Tfi2iError, match="upsampling 'pixel_shuffle' is not one of transposed, resize, antialias"):
        generators.resnet_generator(3, 3, upsampling="pixel_shuffle")
    with pytest.raises(Tfi2iError, match="downsampling 'max_pool'.*model.generator.params.downsampling"):
        generators.resnet_generator(3, 3, downsampling="max_pool")
    with pytest.raises(Tfi2iError, match="downsampling 'max_pool'.*model.discriminator.params.downsampling"):
        discriminators.patchgan_discriminator(3, downsampling="max_pool")
