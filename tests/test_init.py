"""model.init: the reference's initializations, on the built-in networks and on any other."""

import itertools

import keras
import numpy as np
import pytest

from tfi2i import config as config_lib
from tfi2i.models import factory
from tfi2i.nets import init as init_lib

GAIN = 0.05


def kernel_std(init_type, kernel_shape):
    """The std PyTorch's initializer of `init_type` gives a kernel of this Keras shape."""
    fan_in, fan_out = np.prod(kernel_shape[:-1]), np.prod(kernel_shape[:-2]) * kernel_shape[-1]
    if init_type == "normal":
        return GAIN
    if init_type == "xavier":
        return GAIN * np.sqrt(2.0 / (fan_in + fan_out))
    if init_type == "kaiming":
        return np.sqrt(2.0 / fan_in)
    return GAIN / np.sqrt(fan_in)  # orthogonal columns of norm GAIN


@pytest.mark.parametrize("init_type", init_lib.INIT_TYPES)
def test_every_kernel_of_a_built_model_follows_model_init(init_type):
    keras.utils.set_random_seed(0)
    config = config_lib.load(None, ["data.root=x", "data.load_size=64", "data.crop_size=64",
                                    f"model.init={{type: {init_type}, gain: {GAIN}}}"])
    model = factory.build_model(config)
    for network in (model.generator, model.discriminator):
        checked = 0
        for layer in network.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None or kernel.shape.num_elements() < 50_000:
                continue  # big enough for its std to be measured within 10%
            values = kernel.numpy()
            assert values.std() == pytest.approx(kernel_std(init_type, values.shape), rel=0.1), layer.name
            if init_type == "orthogonal":
                flat = values.reshape(-1, values.shape[-1])
                np.testing.assert_allclose(flat.T @ flat, GAIN**2 * np.eye(flat.shape[1]), atol=1e-6)
            if layer.bias is not None:
                assert not layer.bias.numpy().any()
            checked += 1
        assert checked >= 2, network.name
    gammas = [layer.gamma.numpy() for layer in model.generator.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    assert np.mean(np.concatenate(gammas)) == pytest.approx(1.0, abs=0.01)
    assert np.std(np.concatenate(gammas)) == pytest.approx(GAIN, rel=0.2)
    # Each weight is its own draw: layers of one shape (the U-Net's 8ngf blocks) differ.
    for network in (model.generator, model.discriminator):
        kernels = [layer.kernel.numpy() for layer in network.layers if hasattr(layer, "kernel")]
        for drawn in (kernels, gammas if network is model.generator else []):
            for i, j in itertools.combinations(range(len(drawn)), 2):
                if drawn[i].shape == drawn[j].shape:
                    assert not np.array_equal(drawn[i], drawn[j]), (network.name, i, j)


def test_any_network_is_initialized_through_wrappers_and_nesting():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(64, 3, bias_initializer="ones")])
    network = keras.Sequential([keras.Input((8, 8, 3)), inner, keras.layers.Flatten(),
                                keras.layers.SpectralNormalization(keras.layers.Dense(256))])
    init_lib.initialize(network, "normal", GAIN)
    conv, dense = inner.layers[0], network.layers[-1].layer
    for layer in (conv, dense):
        assert layer.kernel.numpy().std() == pytest.approx(GAIN, rel=0.1)
        assert not layer.bias.numpy().any()


def test_without_model_init_the_networks_keep_their_own():
    keras.utils.set_random_seed(0)
    config = config_lib.load(None, ["data.root=x", "data.load_size=64", "data.crop_size=64"])
    kernel = factory.build_model(config).generator.layers[1].kernel.numpy()
    assert kernel.std() == pytest.approx(0.02, rel=0.1)  # the built-ins' N(0, 0.02)
