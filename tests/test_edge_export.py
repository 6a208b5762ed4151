"""ONNX and LiteRT exports: converted from the SavedModel's graph, equal to the Keras generator,
readable by `tfi2i translate` and `evaluate`, and never half-written."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from tests.images import in_process, random_pixels
from tests.test_translate import read_png, write_image
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError
from tfi2i.inference import edge_export, export, translators

# Bounds against the float32 Keras generator: float32 files convert the same arithmetic; with
# weights stored as float16 or int8 the outputs (in [-1, 1]) move by what these tiny random
# networks showed, with room.
BOUNDS = {None: 1e-4, "float16": 1e-2, "dynamic-int8": 0.2}
CASES = [("pix2pix", "a2b"), ("cyclegan", "b2a"), ("unit", "a2b"),  # U-Net, ResNet, UNIT's E + G,
         ("cut", "a2b")]  # and the ResNet with anti-aliased sampling (blur pools, bilinear resizes)


def images(channels, height, width, batch=2, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, height, width, channels)).astype(np.float32)


@pytest.mark.parametrize("name, direction", CASES)
def test_onnx_equals_the_keras_generator_at_any_size(runs, tmp_path, name, direction):
    run_dir, model = runs[name]
    path = edge_export.export_file(run_dir, str(tmp_path), "onnx", direction)
    assert path == str(tmp_path / f"{name}_{direction}.onnx")
    metadata = json.load(open(edge_export.metadata_path(path)))
    assert (metadata["format"], metadata["onnx_opset"], metadata["direction"]) == ("onnx", 17, direction)
    translator = translators.load(path)
    for height, width in ((32, 32), (25, 17)):  # a size the network takes, and one it is padded to
        batch = images(metadata["input_channels"], height, width)
        np.testing.assert_allclose(translator(batch), in_process(model, direction, batch), atol=BOUNDS[None])


@pytest.mark.parametrize("name, direction", CASES)
@pytest.mark.parametrize("quantize", [None, "float16", "dynamic-int8"])
def test_tflite_equals_the_keras_generator_within_its_bound(runs, tmp_path, name, direction, quantize):
    run_dir, model = runs[name]
    path = edge_export.export_file(run_dir, str(tmp_path), "tflite", direction, size="25x17", quantize=quantize)
    metadata = json.load(open(edge_export.metadata_path(path)))
    assert (metadata["size"], metadata["quantize"]) == ([25, 17], quantize or "none")
    batch = images(metadata["input_channels"], 25, 17)
    error = np.abs(translators.load(path)(batch) - in_process(model, direction, batch)).max()
    assert error <= BOUNDS[quantize]
    with pytest.raises(Tfi2iError, match=r"takes 17x25 images, not 32x32; export it again with --size 32x32"):
        translators.load(path)(images(metadata["input_channels"], 32, 32))


@pytest.mark.parametrize("fmt, extra", [("onnx", []), ("tflite", ["--size", "20x28"])])
def test_an_edge_file_translates_files_as_the_saved_model(runs, unpaired_root, tmp_path, fmt, extra):
    run_dir, _ = runs["cyclegan"]
    for index in range(2):
        write_image(str(tmp_path / "in" / f"{index}.png"), random_pixels(20, 28, 3, index))
    saved_model = export.export(run_dir, str(tmp_path / "models"))
    result = CliRunner().invoke(cli, ["export", run_dir, "--out", str(tmp_path / "models"), "--format", fmt, *extra])
    assert result.exit_code == 0, result.output
    edge_file = str(tmp_path / "models" / f"cyclegan_a2b.{fmt}")
    for model, out in ((saved_model, "from_saved_model"), (edge_file, "from_edge")):
        result = CliRunner().invoke(cli, ["translate", "--model", model, str(tmp_path / "in"), "--out",
                                          str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    for index in range(2):
        edge, reference = (read_png(str(tmp_path / out / f"{index}.png")).astype(int)
                           for out in ("from_edge", "from_saved_model"))
        assert np.abs(edge - reference).max() <= 1
    if fmt == "onnx":  # any size: it scores the synthetic test split, as the SavedModel does
        scores = {}
        for model in (saved_model, edge_file):
            out = str(tmp_path / f"{os.path.basename(model)}.json")
            result = CliRunner().invoke(cli, ["evaluate", "--model", model, "--data", unpaired_root, "--metrics", "l1",
                                              "--out", out])
            assert result.exit_code == 0, result.output
            scores[model] = json.load(open(out))["metrics"]["l1"]
        assert scores[edge_file] == pytest.approx(scores[saved_model], abs=1e-4)


def test_what_cannot_be_converted_is_one_line_and_leaves_no_file(runs, tmp_path, monkeypatch):
    run_dir, _ = runs["pix2pix"]
    out = tmp_path / "models"
    for args, message in [
        (["--format", "tflite"], "--format tflite needs --size HEIGHTxWIDTH"),
        (["--format", "tflite", "--size", "0x16"], "--size '0x16' is not HEIGHTxWIDTH"),
        (["--format", "onnx", "--quantize", "float16"], "--size and --quantize are for --format tflite"),
        (["--format", "onnx", "--kernels", "tuned"], "--version, --kernels and --max-pixels are for --format savedmodel"),
    ]:
        result = CliRunner().invoke(cli, ["export", run_dir, "--out", str(out), *args])
        assert result.exit_code == 2 and result.output.strip().splitlines() == [result.output.strip()]
        assert result.output.startswith(f"error: {message}"), result.output
    # A converter that fails mid-write: one line naming it, and nothing left behind.
    def failing_convert(*args, **kwargs):
        open(args[1], "wb").write(b"half")
        raise RuntimeError("Could not translate MLIR to FlatBuffer.\nmore lines")
    monkeypatch.setattr(edge_export, "convert_tflite", failing_convert)
    with pytest.raises(Tfi2iError, match=r"^the tflite converter could not convert '.*' \(Could not translate MLIR to "
                                         r"FlatBuffer.\); export --format savedmodel instead$"):
        edge_export.export_file(run_dir, str(out), "tflite", size="32x32")
    assert os.listdir(out) == []


def test_train_mode_dropout_and_missing_extras_are_refused(runs, tmp_path, monkeypatch, tiny_config):
    run_dir, _ = runs["pix2pix"]
    monkeypatch.setattr(edge_export.test_time, "has_dropout", lambda network: True)
    with pytest.raises(Tfi2iError, match="inference mode 'train' draws dropout masks, which onnx freezes"):
        edge_export.export_file(run_dir, str(tmp_path), "onnx", mode="train")
    monkeypatch.setattr("builtins.__import__", _without("tf2onnx"))
    with pytest.raises(Tfi2iError, match=r"needs the 'onnx' extra \(no module 'tf2onnx'\); install it with: pip "
                                         r"install 'tfi2i\[onnx\]'"):
        edge_export.require("tf2onnx", "onnx")


def _without(missing):
    real_import = __import__

    def fake_import(name, *args, **kwargs):
        if name == missing:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    return fake_import
