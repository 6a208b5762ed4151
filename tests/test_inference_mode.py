"""inference.mode: eval (dropout off, moving statistics) or train (dropout on, each image's
own statistics: the reference's default test). The exports' and the commands' use of it is
tested in test_export.py and test_translate.py."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import assert_unchanged, built_model
from tfi2i import kernels
from tfi2i.errors import Tfi2iError
from tfi2i.nets import test_time
from tfi2i.nets.generators import resnet_generator, unet_generator

IMAGES = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
# The U-Net has dropout from 64 px up (in the blocks between the innermost and the ngf * 8 ones).
IMAGES_64 = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)


@pytest.mark.parametrize("kernel_mode", ["keras", "tuned"])
def test_train_mode_normalizes_each_image_by_its_own_statistics(kernel_mode):
    """Without dropout, train mode on a batch gives what training mode gives each image alone
    (batch normalization over a batch of one), and updates no moving statistic."""
    with kernels.building_with(kernel_mode):
        network = unet_generator(3, 3, ngf=8, image_size=32, dropout=False)
    network(IMAGES[:1], training=True)  # moving statistics away from their initial values
    train_mode = test_time.for_mode(network, "train")
    outputs = {}
    assert_unchanged(network, lambda: outputs.setdefault("batch", train_mode(IMAGES).numpy()))
    alone = np.concatenate([network(image[None], training=True).numpy() for image in IMAGES])
    np.testing.assert_allclose(outputs["batch"], alone, atol=2e-6)
    # ... and it is not eval mode, which reads the moving statistics.
    assert np.abs(outputs["batch"] - network(IMAGES, training=False).numpy()).max() > 1e-2


def test_train_mode_keeps_dropout_on_and_shares_the_weights():
    network = unet_generator(3, 3, ngf=8, image_size=64, dropout=True)
    train_mode = test_time.for_mode(network, "train")
    first, second = train_mode(IMAGES_64).numpy(), train_mode(IMAGES_64).numpy()
    assert np.abs(first - second).max() > 1e-3  # fresh masks on every call
    kernel = network.get_layer("down1_conv").kernel
    kernel.assign(kernel * 0.5)  # the copy reads the network's variables
    assert {id(v) for v in train_mode.trainable_variables} == {id(v) for v in network.trainable_variables}


def test_eval_mode_and_networks_without_batch_norm_or_dropout_are_the_network_itself():
    unet = unet_generator(3, 3, ngf=8, image_size=32)
    resnet = resnet_generator(3, 3, ngf=8, n_blocks=1, norm="instance")
    assert test_time.for_mode(unet, "eval") is unet
    assert test_time.for_mode(resnet, "train") is resnet
    with pytest.raises(Tfi2iError, match="inference mode 'test' is not one of eval, train"):
        test_time.for_mode(unet, "test")


def test_train_mode_samples_leave_the_checkpoint_layout_and_training_state_alone(tiny_config):
    model = built_model(tiny_config("inference.mode=train", "data.load_size=72", "data.crop_size=64"))
    batch = (tf.constant(IMAGES_64), tf.constant(IMAGES_64))
    names = [v.path for v in model.variables]
    columns = {}
    assert_unchanged(model, lambda: columns.setdefault("first", model.sample_columns(batch)))
    assert [v.path for v in model.variables] == names
    # Dropout is on: another grid draws other masks.
    assert np.abs(columns["first"][1].numpy() - model.sample_columns(batch)[1].numpy()).max() > 1e-3
