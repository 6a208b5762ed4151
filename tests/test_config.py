import os

import pytest
import tensorflow as tf
from click.testing import CliRunner

from tfi2i import config as config_lib
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError

CONFIGS = os.path.join(os.path.dirname(__file__), os.pardir, "configs")


def test_overrides_are_converted_to_the_field_types():
    config = config_lib.load(None, [
        "data.root=/data/facades",
        "train.batch_size=8",
        "optimizer.lr=1e-4",
        "data.flip=false",
        "data.input_nc=1",
        "model.generator.name=123",
        "model.generator.params.ngf=32",
        "losses.0.weight=50",
    ])
    assert config.train.batch_size == 8 and isinstance(config.train.batch_size, int)
    assert config.optimizer.lr == pytest.approx(1e-4) and isinstance(config.optimizer.lr, float)
    assert config.data.flip is False
    assert config.data.input_nc == 1
    assert config.model.generator.name == "123"  # a str field keeps the text
    assert config.model.generator.params["ngf"] == 32
    assert config.losses[0].weight == 50.0


def test_yaml_exponent_floats_are_numbers(tmp_path):
    # YAML 1.1 reads 2e-4 as a string; the config must still take it as a float.
    path = tmp_path / "c.yaml"
    path.write_text("optimizer: {lr: 2e-4}\ndata: {root: /x}\n")
    assert config_lib.load(str(path)).optimizer.lr == pytest.approx(2e-4)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(Tfi2iError, match=r"unknown config key 'train.bach_size' \(did you mean 'batch_size'\?\)"):
        config_lib.load(None, ["data.root=/x", "train.bach_size=4"])


def test_unknown_key_in_yaml_names_the_full_path(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {root: /x, crop_sise: 64}\n")
    with pytest.raises(Tfi2iError, match=r"'data.crop_sise' \(did you mean 'crop_size'\?\)"):
        config_lib.load(str(path))


def test_wrong_type_names_key_and_types():
    with pytest.raises(Tfi2iError, match=r"'train.batch_size': expected int, got str 'four'"):
        config_lib.load(None, ["data.root=/x", "train.batch_size=four"])


def test_choice_fields_reject_other_values():
    with pytest.raises(Tfi2iError, match=r"'data.preprocess': 'resize_crop' is not one of .*did you mean 'resize_and_crop'"):
        config_lib.load(None, ["data.root=/x", "data.preprocess=resize_crop"])


def test_list_index_out_of_range():
    with pytest.raises(Tfi2iError, match=r"'losses.3': the list has 1 item"):
        config_lib.load(None, ["data.root=/x", "losses.3.weight=1"])


def test_missing_data_root_says_how_to_set_it():
    with pytest.raises(Tfi2iError, match=r"data.root.*--set data.root="):
        config_lib.load(None, [])


def test_resolved_config_round_trips(tmp_path):
    config = config_lib.load(None, ["data.root=/x", "train.batch_size=3"])
    path = tmp_path / "resolved.yaml"
    path.write_text(config_lib.to_yaml(config))
    assert config_lib.load(str(path)) == config


def test_shipped_configs_load_and_build(tmp_path):
    from tfi2i.models import factory

    for name in sorted(os.listdir(CONFIGS)):
        config = config_lib.load(os.path.join(CONFIGS, name), [f"data.root={tmp_path}"])
        model = factory.build_model(config)
        assert sum(int(tf.size(v)) for v in model.generator_variables) > 0, name


def test_facades_config_has_the_reference_defaults():
    config = config_lib.load(os.path.join(CONFIGS, "pix2pix_facades.yaml"), ["data.root=/facades"])
    assert (config.model.generator.name, config.model.discriminator.name, config.model.gan_loss.name) == (
        "unet_256", "basic", "vanilla")
    assert [(loss.name, loss.weight) for loss in config.losses] == [("l1", 100.0)]
    assert (config.optimizer.lr, config.optimizer.beta_1) == (2e-4, 0.5)
    assert (config.data.load_size, config.data.crop_size, config.data.flip) == (286, 256, True)
    assert (config.train.batch_size, config.train.n_epochs, config.train.n_epochs_decay) == (1, 100, 100)


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--config", os.path.join(CONFIGS, "quickstart.yaml"),
                                      "--set", "train.bach_size=2", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown config key 'train.bach_size'")
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # bad input touches no run directory
