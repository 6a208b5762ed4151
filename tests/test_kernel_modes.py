"""Runs cross `train.kernels` modes: a checkpoint written with the CPU-tuned layers restores into
stock Keras layers (and back) with the same variables, and the networks give the same outputs."""

import re
import shutil

import numpy as np
import pytest
import yaml

from tfi2i.kernels.conv import TunedConv2D
from tfi2i.nets.introspection import every_layer
from tfi2i.run import directory as run_directory
from tfi2i.run.restore import restore_model
from tfi2i.training.assembly import assemble

MODELS = ["pix2pix", "cyclegan", "unit", "cut"]


def layer_path(variable):
    # Seed generators are numbered in the order a process makes them.
    return re.sub(r"seed_generator_\d+", "seed_generator", variable.path)


def assert_same_variables(model, reference):
    """The same variables in the same order (a checkpoint lists them so), of equal values."""
    for got, expected in zip(model.variables, reference.variables, strict=True):
        assert layer_path(got) == layer_path(expected)
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)


def assert_same_translations(model, reference, atol=1e-5):
    """Every direction's translator, in inference mode, on the same images."""
    for direction in reference.directions:
        network = reference.translator(direction)
        images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, network.input_shape[-1])).astype("float32")
        np.testing.assert_allclose(model.translator(direction)(images), network(images), atol=atol)


def uses_tuned_layers(model):
    return any(isinstance(layer, TunedConv2D) for layer in every_layer(model))


@pytest.mark.parametrize("name", MODELS)
def test_a_tuned_checkpoint_restores_into_stock_keras_layers(runs, name):
    run_dir, trained = runs[name]  # trained with the default kernels: tuned, without a GPU
    assert uses_tuned_layers(trained)
    _, model, _ = restore_model(run_dir, kernel_mode="keras")
    assert not uses_tuned_layers(model)
    assert_same_variables(model, trained)
    assert_same_translations(model, trained)


def resumed(run_dir, *overrides):
    return assemble(run_directory.saved_config(run_dir, overrides), run_dir, log=lambda _: None)


def optimizer_slots(model):
    return [v.numpy() for optimizer in model.optimizers.values() for v in optimizer.variables]


@pytest.mark.parametrize("name", MODELS)
def test_a_tuned_run_resumes_under_stock_keras_layers(runs, tmp_path, name):
    run_dir = str(tmp_path / "run")
    shutil.copytree(runs[name][0], run_dir)
    trained = runs[name][1]
    # The trainer's restore checks that every variable and optimizer slot is consumed.
    stock = resumed(run_dir, "train.kernels=keras")
    assert stock.step == 2 and not uses_tuned_layers(stock.model)
    assert_same_variables(stock.model, trained)
    for got, expected in zip(optimizer_slots(stock.model), optimizer_slots(trained), strict=True):
        np.testing.assert_array_equal(got, expected)
    with open(run_directory.config_path(run_dir)) as f:
        assert yaml.safe_load(f)["train"]["kernels"] == "keras"  # what the run now trains with


def test_a_run_trained_on_stock_layers_resumes_under_tuned_ones(runs, tmp_path):
    # CycleGAN: instance norm, reflection padding, the blocked head conv all change class.
    run_dir = str(tmp_path / "run")
    shutil.copytree(runs["cyclegan"][0], run_dir)
    stock = resumed(run_dir, "train.kernels=keras", "train.n_epochs=2")
    assert stock.fit().step == 4  # saved from the stock layers
    tuned = resumed(run_dir, "train.kernels=tuned")
    assert tuned.step == 4 and uses_tuned_layers(tuned.model)
    assert_same_variables(tuned.model, stock.model)
    assert_same_translations(tuned.model, stock.model)
