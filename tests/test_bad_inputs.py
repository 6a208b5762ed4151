"""A corpus of bad files and misuse against train, translate, evaluate and the serving
signature: one error line, exit code 2, the run untouched; and TensorFlow's native log lines
kept off the command line."""

import importlib.metadata
import io
import os
import shutil
import signal
import struct
import time
import zlib

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from tests.conftest import TINY
from tests.test_cli import tiny_args
from tests.test_reliability import file_digests, refused
from tfi2i import config as config_lib, registry
from tfi2i.cli import cli
from tfi2i.data import folders
from tfi2i.inference import export
from tfi2i.runtime import native_logs
from tfi2i.training.assembly import assemble


# --- a corpus of bad files and misuse: one line, exit code 2, the run untouched -------------

def png_declaring(width, height):
    """A small PNG whose header declares width x height (its data is far too short)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b"")


def small_png(width=32, height=32):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


BAD_FILES = {
    "empty": b"",
    "text": b"this is a text file, not an image at all",
    "truncated": small_png()[:60],
    "signature_then_garbage": b"\x89PNG\r\n\x1a\n" + bytes(range(7, 250)),
    "declares_20000x20000": png_declaring(20000, 20000),
}


@pytest.fixture(scope="module")
def trained_run(paired_root, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("reliability") / "run")
    config = config_lib.load(None, [f"data.root={paired_root}", *TINY, "train.steps_per_epoch=2", "train.n_epochs=1",
                                    "train.n_epochs_decay=0"])
    assemble(config, run_dir, log=lambda _: None).fit()
    return run_dir


def one_error_line(result, *fragments):
    """The CliRunner result failed with exit code 2 and one `error:` line on stderr holding
    `fragments`."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def run_untouched(run_dir, action):
    before = file_digests(run_dir)
    action()
    assert file_digests(run_dir) == before


def dataset_with(tmp_path, paired_root, name, data):
    root = tmp_path / "data"
    shutil.copytree(paired_root, root)
    (root / "train" / name).write_bytes(data)
    return root


@pytest.mark.parametrize("kind", [*BAD_FILES, "one_pixel_wide"])
def test_a_bad_training_image_is_named_in_one_line_and_the_run_is_untouched(kind, trained_run, paired_root, tmp_path):
    data = small_png(width=1) if kind == "one_pixel_wide" else BAD_FILES[kind]
    root = dataset_with(tmp_path, paired_root, "bad.png", data)
    result = []
    run_untouched(trained_run, lambda: result.append(
        CliRunner().invoke(cli, ["train", "--resume", trained_run, "--set", f"data.root={root}"])))
    one_error_line(result[0], f"'{root / 'train' / 'bad.png'}'", "replace or remove it")


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("side", ["real", "fake", "data"])
def test_evaluate_names_a_bad_image_in_one_line(kind, side, trained_run, paired_root, tmp_path):
    if side == "data":
        root = tmp_path / "data"
        shutil.copytree(paired_root, root)
        bad = root / "test" / "00000.png"
        bad.write_bytes(BAD_FILES[kind])
        args = ["evaluate", "--model", trained_run, "--data", str(root), "--metrics", "l1"]
    else:
        folders_ = {s: tmp_path / s for s in ("real", "fake")}
        for folder in folders_.values():
            shutil.copytree(os.path.join(paired_root, "test"), folder)
        bad = folders_[side] / "00000.png"
        bad.write_bytes(BAD_FILES[kind])
        args = ["evaluate", "--real", str(folders_["real"]), "--fake", str(folders_["fake"]), "--metrics", "l1"]
    started = time.perf_counter()
    run_untouched(trained_run, lambda: one_error_line(CliRunner().invoke(cli, args), f"'{bad}' cannot be read"))
    if kind == "declares_20000x20000":
        assert time.perf_counter() - started < 30  # refused from the header, never decoded (54 s before)


def test_evaluate_takes_a_pixel_limit(paired_root):
    test = os.path.join(paired_root, "test")
    result = CliRunner().invoke(cli, ["evaluate", "--real", test, "--fake", test, "--metrics", "l1", "--max-pixels", "100"])
    one_error_line(result, "00000.png' cannot be read (64x32 is more than --max-pixels 100)")


def test_evaluate_names_both_files_of_a_pair_of_two_sizes(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    (tmp_path / "real" / "x.png").write_bytes(small_png(32, 32))
    (tmp_path / "fake" / "x.png").write_bytes(small_png(16, 16))
    result = CliRunner().invoke(cli, ["evaluate", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                                      "--metrics", "l1"])
    one_error_line(result, f"'{tmp_path / 'fake' / 'x.png'}' is 16x16 but its target '{tmp_path / 'real' / 'x.png'}' "
                           "is 32x32")


@pytest.mark.parametrize("setting, message", [
    ("losses=[{name: l1", "the value is not valid YAML"),
    ("optimizer.lr=-1", "config key 'optimizer.lr' is -1.0; it must be a finite number greater than 0"),
    ("data.max_dataset_size=0", "config key 'data.max_dataset_size' is 0; it must be at least 1, or null"),
    ("data.max_dataset_size=-1", "config key 'data.max_dataset_size' is -1; it must be at least 1, or null"),
    ("train.n_epochs=-2", "config key 'train.n_epochs' is -2; it must be 0 or more"),
])
def test_nonsense_settings_are_refused_and_leave_the_run_as_it_was(setting, message, trained_run):
    result = []
    run_untouched(trained_run, lambda: result.append(
        CliRunner().invoke(cli, ["train", "--resume", trained_run, "--set", setting])))
    one_error_line(result[0], message)


@pytest.mark.parametrize("crop, generator, hint", [
    (30, "resnet", "takes multiples of 4; set data.crop_size to 28 or 32"),
    (32, "unet_256", "takes multiples of 256; set data.crop_size to 256 or 512"),
])
def test_a_crop_size_the_generator_cannot_take_names_the_sizes_that_work(crop, generator, hint, paired_root, tmp_path):
    args = tiny_args(paired_root, tmp_path / "run") + ["--set", f"data.crop_size={crop}",
                                                       "--set", f"model.generator.name={generator}"]
    one_error_line(CliRunner().invoke(cli, args), f"'data.crop_size' is {crop}", hint)


def test_a_folder_with_a_broken_saved_model_is_refused_in_one_line(paired_root, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"not a protocol buffer")
    for args in (["translate", "--model", str(tmp_path / "model"), os.path.join(paired_root, "test"), "--out",
                  str(tmp_path / "out")],
                 ["evaluate", "--model", str(tmp_path / "model"), "--data", paired_root]):
        one_error_line(CliRunner().invoke(cli, args), "holds no readable SavedModel", "tfi2i export")


def register_loss(monkeypatch, name, class_name):
    """Registers tests.test_bad_inputs:<class_name> as loss `name` of distribution 'broken-plugins'."""
    entry = importlib.metadata.EntryPoint(name, f"tests.test_bad_inputs:{class_name}", "tfi2i.losses")
    dist = type("Distribution", (), {"name": "broken-plugins"})()
    found = registry._entry_points
    monkeypatch.setattr(registry, "_entry_points", lambda group: found(group) + (
        [entry._for(dist)] if group == "tfi2i.losses" else []))


class RaisingLoss:
    def __call__(self, translation):
        raise RuntimeError("boom inside the plugin")


class ScalarLoss:
    def __call__(self, translation):
        return tf.reduce_mean(tf.abs(translation.translated))


@pytest.mark.parametrize("name, message", [
    ("raising", "loss 'raising' from distribution 'broken-plugins' failed: RuntimeError: boom inside the plugin"),
    ("scalar", "loss 'scalar' from distribution 'broken-plugins' returned shape [], where a tfi2i.losses entry "
               "returns one value per example (shape [batch])"),
])
def test_a_loss_plugin_that_fails_is_named_with_its_distribution(name, message, monkeypatch, paired_root, tmp_path):
    register_loss(monkeypatch, name, "RaisingLoss" if name == "raising" else "ScalarLoss")
    args = tiny_args(paired_root, tmp_path / "run") + ["--set", f"losses=[{{name: {name}}}]"]
    one_error_line(CliRunner().invoke(cli, args), message, "fix the plugin or remove it from 'losses'")
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_files_left_out_of_a_dataset_are_noted_once(paired_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(paired_root, root)
    Image.new("RGB", (64, 32)).save(root / "train" / "x.tiff")
    Image.new("RGB", (64, 32)).save(root / "train" / "y.webp")
    (root / "train" / ".DS_Store").write_bytes(b"\0")
    notes = folders.find_paired(str(root), "aligned", "train").notes
    assert notes == (f"note: left out 2 files in '{root / 'train'}' that are not png/jpg/jpeg/bmp/gif images "
                     "(1 .tiff, 1 .webp); convert them to include them",)

    for side in "AB":
        (tmp_path / "pf" / side / "train").mkdir(parents=True)
    for name in ("x.png", "y.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "pf" / "B" / "train" / name)
    Image.new("RGB", (8, 8)).save(tmp_path / "pf" / "A" / "train" / "x.png")
    files = folders.find_paired(str(tmp_path / "pf"), "paired_folders", "train")
    assert len(files) == 1 and files.notes == (
        f"note: left out 1 images in '{tmp_path / 'pf' / 'B' / 'train'}' with no partner of the same name in "
        f"'{tmp_path / 'pf' / 'A' / 'train'}'",)


def test_the_serving_signature_says_what_is_wrong_with_a_request(trained_run, tmp_path):
    signature = tf.saved_model.load(export.export(trained_run, str(tmp_path), "a2b")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a PNG, JPEG, BMP or GIF image"):
        signature(image_bytes=tf.constant([BAD_FILES["signature_then_garbage"]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="the request holds no image; send at least one"):
        signature(image_bytes=tf.constant([], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more pixels than the limit of this export"):
        signature(image_bytes=tf.constant([BAD_FILES["declares_20000x20000"]]))


def test_translate_skips_each_bad_file_naming_why(trained_run, tmp_path):
    (tmp_path / "in").mkdir()
    for kind, data in BAD_FILES.items():
        (tmp_path / "in" / f"{kind}.png").write_bytes(data)
    (tmp_path / "in" / "good.png").write_bytes(small_png())
    result = CliRunner().invoke(cli, ["translate", "--model", trained_run, str(tmp_path / "in"), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{len(BAD_FILES)} of {len(BAD_FILES) + 1} inputs were skipped" in result.output
    assert "20000x20000 is more than --max-pixels" in result.output
    assert os.listdir(tmp_path / "out") == ["good.png"]


# --- TensorFlow's native log lines stay off the command line ---------------------------------

def test_native_log_lines_are_dropped_and_the_rest_passes():
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1796183452.453490    2534 port.cc:153] oneDNN custom operations are on.\n",
        b"E0000 00:00:1796183453.221034    2534 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
        b"error: dataset folder 'x' does not exist; check data.root\n",
        b"Everything else, E0000 inside a line included\n",
        b"translating  [####    ]  50%\r",
    ]
    source, sink = os.pipe()
    out_read, out_write = os.pipe()
    for line in lines:
        os.write(sink, line)
    os.close(sink)
    native_logs._pump(source, out_write)
    os.close(out_write)
    assert os.read(out_read, 65536) == b"".join(lines[3:])


def test_a_command_line_error_is_the_only_line_on_stderr(tmp_path):
    code, err = refused("train", "--config", os.path.join(os.path.dirname(__file__), os.pardir, "configs",
                                                          "pix2pix_facades.yaml"),
                        "--set", f"data.root={tmp_path / 'missing'}", "--run-dir", str(tmp_path / "run"))
    assert code == 2
    assert err.splitlines() == [f"error: dataset folder '{tmp_path / 'missing' / 'train'}' does not exist; check "
                                "data.root (the aligned layout is <root>/<split>/*.png with A|B side by side)"]
    assert not os.path.exists(tmp_path / "run")


def test_verbose_keeps_tensorflows_own_lines(tmp_path):
    code, err = refused("--verbose", "train", "--config", os.path.join(os.path.dirname(__file__), os.pardir,
                                                                      "configs", "pix2pix_facades.yaml"),
                        "--set", f"data.root={tmp_path / 'missing'}", "--run-dir", str(tmp_path / "run"))
    lines = err.splitlines()
    assert code == 2 and lines[-1].startswith("error: dataset folder")
    # TensorFlow's start-up lines (oneDNN's, at least, on x86 CPUs) come before it.
    assert any(native_logs.is_native_log(line.encode()) for line in lines[:-1]), lines


def test_a_run_that_fails_to_start_puts_the_signal_handlers_back(monkeypatch, paired_root, tmp_path):
    register_loss(monkeypatch, "raising", "RaisingLoss")
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    config = config_lib.load(None, [f"data.root={paired_root}", *TINY, "losses=[{name: raising}]"])
    with pytest.raises(Exception) as raised:
        assemble(config, str(tmp_path / "run"), log=lambda _: None).fit()
    assert "boom inside the plugin" in str(raised.value)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
