import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.images import as_png_levels, in_process, png_bytes, random_pixels
from tfi2i.inference import export, translate_files, translators
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError


def write_image(path, pixels, image_format="PNG"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(path, format=image_format)


def read_png(path):
    image = np.asarray(Image.open(path))
    return image[..., None] if image.ndim == 2 else image


@pytest.fixture
def inputs(tmp_path):
    """A folder of images: two sizes, a sub-folder, JPEG/BMP/GIF; {relative path: pixels as decoded}."""
    folder = tmp_path / "in"
    images = {
        "a.png": random_pixels(20, 28, 3, 1),
        "b.png": random_pixels(20, 28, 3, 2),
        "c.png": random_pixels(20, 28, 3, 3),
        "odd.bmp": random_pixels(13, 9, 3, 4),
        "sub/d.png": random_pixels(13, 9, 3, 5),
        "sub/deeper/e.gif": np.full((20, 28, 3), 200, np.uint8),  # flat: GIF's palette keeps it exact
    }
    for name, pixels in images.items():
        write_image(str(folder / name), pixels, {"png": "PNG", "bmp": "BMP", "gif": "GIF"}[name[-3:]])
    return str(folder), images


def expected_outputs(model, direction, images):
    return {os.path.splitext(name)[0] + ".png": as_png_levels(in_process(model, direction, p[None] / 127.5 - 1.0)[0])
            for name, p in images.items()}


def assert_written(out_dir, expected):
    written = sorted(os.path.relpath(os.path.join(parent, n), out_dir)
                     for parent, _, names in os.walk(out_dir) for n in names)
    assert written == sorted(expected)
    for name, want in expected.items():
        got = read_png(os.path.join(out_dir, name))
        assert got.shape == want.shape, name
        assert np.abs(got.astype(np.float32) - want).max() <= 1, name  # PNG rounding


@pytest.mark.parametrize("name, direction", [("cyclegan", "b2a"), ("unit", "a2b")])
def test_translating_a_folder_with_a_run_mirrors_it_and_equals_the_generator(runs, inputs, tmp_path, name, direction):
    run_dir, model = runs[name]
    folder, images = inputs
    out = str(tmp_path / "out")
    result = CliRunner().invoke(cli, ["translate", "--model", run_dir, "--direction", direction, folder, "--out", out,
                                      "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 6 images" in result.output
    assert_written(out, expected_outputs(model, direction, images))


def test_an_export_translates_as_its_run(runs, inputs, tmp_path):
    run_dir, model = runs["unit"]
    base = str(tmp_path / "models")
    export.export(run_dir, base, "b2a")  # 1-channel input: the images are read as grayscale
    folder, images = inputs
    gray = {name: grayscale(p) for name, p in images.items()}
    # The model folder (its latest version) and the version folder itself both load.
    for model_path in (os.path.join(base, "unit_b2a"), os.path.join(base, "unit_b2a", "1")):
        out = str(tmp_path / "out" / os.path.basename(model_path))
        result = CliRunner().invoke(cli, ["translate", "--model", model_path, folder, "--out", out])
        assert result.exit_code == 0, result.output
        assert "b2a" in result.output
        expected = {os.path.splitext(name)[0] + ".png": as_png_levels(in_process(model, "b2a", p[None] / 127.5 - 1)[0])
                    for name, p in gray.items()}
        assert_written(out, expected)


def grayscale(pixels):
    """How images are read for a 1-channel model: tf.image.rgb_to_grayscale of the float pixels."""
    return (pixels.astype(np.float32) @ np.array([0.2989, 0.5870, 0.1140], np.float32))[..., None]


def test_unreadable_files_are_skipped_with_a_warning_each_and_exit_2(runs, tmp_path):
    run_dir, model = runs["pix2pix"]
    folder = tmp_path / "in"
    good = random_pixels(32, 32, 3)
    write_image(str(folder / "good.png"), good)
    (folder / "text.png").write_bytes(b"this is not an image at all, only text")
    (folder / "cut.png").write_bytes(png_bytes(random_pixels(32, 32, 3))[:60])  # header fine, data cut
    out = str(tmp_path / "out")
    result = CliRunner().invoke(cli, ["translate", "--model", run_dir, str(folder), "--out", out])
    assert result.exit_code == 2
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert any("text.png" in w and "not a PNG, JPEG, BMP or GIF image" in w for w in warnings)
    assert any("cut.png" in w and "damaged" in w for w in warnings)
    assert result.output.splitlines()[-1] == f"error: 2 of 3 inputs were skipped (see the warnings above); the other 1 are in {out}"
    assert_written(out, expected_outputs(model, "a2b", {"good.png": good}))


def test_images_over_the_pixel_limit_are_skipped(runs, tmp_path):
    folder = tmp_path / "in"
    write_image(str(folder / "small.png"), random_pixels(10, 10, 3))
    write_image(str(folder / "large.png"), random_pixels(10, 11, 3))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["translate", "--model", runs["cyclegan"][0], str(folder), "--out", str(out),
                                      "--max-pixels", "100"])
    assert result.exit_code == 2
    assert "warning: skipped" in result.output and "11x10 is more than --max-pixels 100" in result.output
    assert os.listdir(out) == ["small.png"]


class RecordingTranslator:
    """Identity translator that records the batch shapes it is given."""

    def __init__(self, channels=3):
        self.input_channels = self.output_channels = channels
        self.batches = []

    def __call__(self, images):
        self.batches.append(images.shape)
        return images


def test_batches_hold_images_of_one_size_up_to_the_batch_size(inputs, tmp_path):
    folder, images = inputs
    translator = RecordingTranslator()
    done = []
    outcome = translate_files.translate(translator, translate_files.plan([folder], str(tmp_path / "out")),
                                        batch_size=2, on_done=done.append)
    assert outcome.written == 6 and outcome.skipped == []
    assert sorted(translator.batches) == sorted([(2, 20, 28, 3), (2, 20, 28, 3), (2, 13, 9, 3)])
    assert sum(done) == 6
    # The identity translator writes the inputs back: pixels and sizes survive the round trip.
    for name, pixels in images.items():
        np.testing.assert_array_equal(read_png(str(tmp_path / "out" / (os.path.splitext(name)[0] + ".png"))), pixels)


def test_plan_keeps_names_mirrors_folders_and_refuses_clashes(tmp_path):
    for name in ("in/x.jpg", "in/s/y.png", "loose.bmp"):
        write_image(str(tmp_path / name), random_pixels(4, 4, 3), "JPEG" if name.endswith("jpg") else "PNG")
    (tmp_path / "in" / "notes.txt").write_text("not an image: not listed")
    out = str(tmp_path / "out")
    jobs = translate_files.plan([str(tmp_path / "in"), str(tmp_path / "loose.bmp"), str(tmp_path / "loose.bmp")], out)
    assert [(os.path.relpath(j.source, tmp_path), os.path.relpath(j.target, out)) for j in jobs] == [
        ("in/s/y.png", "s/y.png"), ("in/x.jpg", "x.png"), ("loose.bmp", "loose.png")]

    write_image(str(tmp_path / "in" / "x.png"), random_pixels(4, 4, 3))
    with pytest.raises(Tfi2iError, match=r"x.jpg' and '.*x.png' would both be written to '.*out/x.png'"):
        translate_files.plan([str(tmp_path / "in")], out)
    with pytest.raises(Tfi2iError, match="lies inside the input folder"):
        translate_files.plan([str(tmp_path / "in")], str(tmp_path / "in" / "translated"))
    with pytest.raises(Tfi2iError, match="input '.*missing.png' does not exist"):
        translate_files.plan([str(tmp_path / "missing.png")], out)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(Tfi2iError, match="holds no images"):
        translate_files.plan([str(tmp_path / "empty")], out)


def test_model_paths_that_are_neither_export_nor_run_are_refused_in_one_line(runs, tmp_path):
    base = str(tmp_path / "models")
    path = export.export(runs["cyclegan"][0], base, "a2b")
    with pytest.raises(Tfi2iError, match="translates a2b, not b2a; drop --direction"):
        translators.load(path, "b2a")
    with pytest.raises(Tfi2iError, match="--checkpoint picks a checkpoint of a run"):
        translators.load(path, checkpoint="2")
    with pytest.raises(Tfi2iError, match="is neither an export .* nor a run"):
        translators.load(str(tmp_path))
    write_image(str(tmp_path / "in" / "x.png"), random_pixels(4, 4, 3))
    result = CliRunner().invoke(cli, ["translate", "--model", str(tmp_path / "nowhere"), str(tmp_path / "in"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: model '{tmp_path / 'nowhere'}' does not exist; " \
                                                     "give an export (folder, .onnx or .tflite file) or a run directory"
    assert not os.path.exists(tmp_path / "out")


def test_a_one_channel_model_reads_images_as_grayscale(inputs, tmp_path):
    folder, images = inputs
    translate_files.translate(RecordingTranslator(channels=1), translate_files.plan([folder], str(tmp_path / "out")))
    for name, pixels in images.items():
        written = read_png(str(tmp_path / "out" / (os.path.splitext(name)[0] + ".png")))
        np.testing.assert_array_equal(written, np.round(grayscale(pixels)))


def test_translate_and_evaluate_take_mode_and_num_test(runs, inputs, tmp_path):
    run_dir, _ = runs["pix2pix"]
    folder, _ = inputs
    result = CliRunner().invoke(cli, ["translate", "--model", run_dir, folder, "--out", str(tmp_path / "out"),
                                      "--num-test", "2", "--mode", "train"])
    assert result.exit_code == 0, result.output
    assert "(step 2, train mode)" in result.output
    written = [n for _, _, names in os.walk(tmp_path / "out") for n in names]
    assert sorted(written) == ["a.png", "b.png"]  # the first two, in the plan's order

    json_path = str(tmp_path / "scores.json")
    result = CliRunner().invoke(cli, ["evaluate", "--model", run_dir, "--split", "val", "--metrics", "l1",
                                      "--num-test", "1", "--mode", "train", "--out", json_path])
    assert result.exit_code == 0, result.output
    record = json.load(open(json_path))
    assert (record["images"], record["inference_mode"]) == (1, "train")
