import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfi2i import config as config_lib
from tfi2i.data import folders, images, pipeline
from tfi2i.errors import Tfi2iError


def data_config(*overrides):
    return config_lib.load(None, ["data.root=/unused", *overrides]).data


def write_twin_pairs(root, count=6, size=40, seed=0):
    """Aligned A|B files whose two halves are the same random picture."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    for i in range(count):
        half = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([half, half], axis=1)).save(os.path.join(root, "train", f"{i}.png"))
    return root


def stream(files, data, batches=12, start_step=0, seed=0):
    return [tuple(t.numpy() for t in batch)
            for batch in pipeline.training_stream(files, data, seed, 1, start_step=start_step).take(batches)]


def test_same_random_crop_and_flip_on_both_halves(tmp_path):
    root = write_twin_pairs(str(tmp_path))
    files = folders.find_paired(root, "aligned", "train")
    data = data_config("data.preprocess=crop", "data.crop_size=24", "data.flip=true")
    batches = stream(files, data)
    for a, b in batches:
        np.testing.assert_array_equal(a, b)  # the pixel-exact same window and flip
    # The crops and flips really are random: the same file appears with different windows.
    originals = [np.asarray(Image.open(p), np.float32)[:, :40] / 127.5 - 1 for p in files.a_paths]
    def placement(a):
        for index, image in enumerate(originals):
            for flipped in (False, True):
                source = image[:, ::-1] if flipped else image
                for top in range(17):
                    for left in range(17):
                        if np.allclose(source[top:top + 24, left:left + 24], a[0], atol=1e-5):
                            return index, flipped, top, left
        raise AssertionError("crop not found in any source image")
    placements = [placement(a) for a, _ in batches]
    assert len({p[1] for p in placements}) == 2, "never flipped, or always"
    assert len({p[2:] for p in placements}) > 3, "crop offsets do not vary"


def test_stream_is_deterministic_and_resumable(tmp_path):
    root = write_twin_pairs(str(tmp_path), count=5)
    files = folders.find_paired(root, "aligned", "train")
    data = data_config("data.load_size=44", "data.crop_size=32")
    full = stream(files, data, batches=12)
    again = stream(files, data, batches=12)
    resumed = stream(files, data, batches=5, start_step=7)
    for x, y in zip(full, again):
        np.testing.assert_array_equal(x[0], y[0])
    for x, y in zip(full[7:], resumed):
        np.testing.assert_array_equal(x[0], y[0])
    other_seed = stream(files, data, batches=12, seed=1)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(full, other_seed))


def test_each_epoch_visits_every_example_once(tmp_path):
    root = write_twin_pairs(str(tmp_path), count=5)
    files = folders.find_paired(root, "aligned", "train")
    data = data_config("data.preprocess=none", "data.flip=false")
    batches = stream(files, data, batches=10)
    originals = [np.asarray(Image.open(p), np.float32)[:, :40] / 127.5 - 1 for p in files.a_paths]
    def which(a):
        return next(i for i, o in enumerate(originals) if np.allclose(o, a[0], atol=1e-5))
    first, second = [which(a) for a, _ in batches[:5]], [which(a) for a, _ in batches[5:]]
    assert sorted(first) == sorted(second) == list(range(5))
    assert first != second  # reshuffled between epochs


def test_an_epoch_longer_than_the_data_reshuffles_every_pass(tmp_path):
    """train.steps_per_epoch above the example count: each pass over the data is a fresh
    permutation, as the reference's loader reshuffles every pass (not one order repeated)."""
    root = write_twin_pairs(str(tmp_path), count=5)
    files = folders.find_paired(root, "aligned", "train")
    data = data_config("data.preprocess=none", "data.flip=false")
    batches = list(pipeline.training_stream(files, data, 0, 1, epoch_steps=20).take(20))
    originals = [np.asarray(Image.open(p), np.float32)[:, :40] / 127.5 - 1 for p in files.a_paths]
    order = [next(i for i, o in enumerate(originals) if np.allclose(o, a[0], atol=1e-5)) for a, _ in batches]
    passes = [order[i:i + 5] for i in range(0, 20, 5)]
    assert all(sorted(p) == list(range(5)) for p in passes)
    assert len({tuple(p) for p in passes}) > 1


def test_serial_batches_take_the_files_in_order(tmp_path):
    root = write_twin_pairs(str(tmp_path), count=5)
    files = folders.find_paired(root, "aligned", "train")
    data = data_config("data.preprocess=none", "data.flip=false", "data.serial_batches=true")
    batches = list(pipeline.training_stream(files, data, 0, 1, epoch_steps=7, start_step=2).take(12))
    originals = [np.asarray(Image.open(p), np.float32)[:, :40] / 127.5 - 1 for p in files.a_paths]
    order = [next(i for i, o in enumerate(originals) if np.allclose(o, a[0], atol=1e-5)) for a, _ in batches]
    assert order == [(2 + k) % 5 for k in range(12)]


@pytest.mark.parametrize("mode, load, crop, expected", [
    ("resize_and_crop", 48, 32, (32, 32)),
    ("crop", 48, 16, (16, 16)),
    ("scale_width", 20, 16, (30, 20)),       # 40x60 (w x h) scaled to width 20 keeps the aspect
    ("scale_width_and_crop", 20, 16, (16, 16)),
    ("none", 48, 32, (60, 40)),
])
def test_preprocess_mode_output_shape(tmp_path, mode, load, crop, expected):
    os.makedirs(tmp_path / "train")
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)  # A and B 60x40 each
    Image.fromarray(image).save(tmp_path / "train" / "x.png")
    files = folders.find_paired(str(tmp_path), "aligned", "train")
    data = data_config(f"data.preprocess={mode}", f"data.load_size={load}", f"data.crop_size={crop}")
    for training in (True, False):
        dataset = pipeline.training_stream(files, data, 0, 1) if training else pipeline.evaluation_set(files, data, 1)
        a, b = next(iter(dataset))
        assert a.shape == b.shape == (1, *expected, 3)
        assert -1.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 1.0


def test_none_mode_rounds_to_a_multiple_of_four(tmp_path):
    os.makedirs(tmp_path / "train")
    Image.fromarray(np.zeros((37, 2 * 45, 3), np.uint8)).save(tmp_path / "train" / "x.png")
    files = folders.find_paired(str(tmp_path), "aligned", "train")
    a, _ = next(iter(pipeline.evaluation_set(files, data_config("data.preprocess=none"), 1)))
    assert a.shape[1:3] == (36, 44)


def test_channel_conversion_between_one_and_three(tmp_path):
    os.makedirs(tmp_path / "train")
    colour = np.zeros((8, 16, 3), np.uint8)
    colour[:, :8] = (255, 0, 0)      # A: pure red
    colour[:, 8:] = (0, 0, 255)      # B: pure blue
    Image.fromarray(colour).save(tmp_path / "train" / "x.png")
    grey = np.full((8, 8), 128, np.uint8)
    os.makedirs(tmp_path / "g" / "A" / "train")
    os.makedirs(tmp_path / "g" / "B" / "train")
    Image.fromarray(grey).save(tmp_path / "g" / "A" / "train" / "x.png")
    Image.fromarray(grey).save(tmp_path / "g" / "B" / "train" / "x.png")

    data = data_config("data.input_nc=1", "data.output_nc=3", "data.preprocess=none")
    a, b = next(iter(pipeline.evaluation_set(folders.find_paired(str(tmp_path), "aligned", "train"), data, 1)))
    assert a.shape[-1] == 1 and b.shape[-1] == 3
    red_luma = 0.2989 * 255  # ITU-R 601 weights, as tf.image.rgb_to_grayscale
    np.testing.assert_allclose((a.numpy() + 1) * 127.5, red_luma, atol=0.6)
    np.testing.assert_allclose((b.numpy()[..., 2] + 1) * 127.5, 255, atol=1e-3)

    # input_nc is the model's input: with b2a it is the B half that becomes grayscale.
    data = data_config("data.input_nc=1", "data.output_nc=3", "data.preprocess=none", "data.direction=b2a")
    a, b = next(iter(pipeline.evaluation_set(folders.find_paired(str(tmp_path), "aligned", "train"), data, 1)))
    assert a.shape[-1] == 1 and b.shape[-1] == 3
    np.testing.assert_allclose((a.numpy() + 1) * 127.5, 0.1140 * 255, atol=0.6)  # blue's luma
    np.testing.assert_allclose((b.numpy()[..., 0] + 1) * 127.5, 255, atol=1e-3)  # red A half

    # A grayscale file read as 3 channels repeats the value in each channel.
    data = data_config("data.input_nc=3", "data.output_nc=1", "data.preprocess=none", "data.layout=paired_folders")
    a, b = next(iter(pipeline.evaluation_set(folders.find_paired(str(tmp_path / "g"), "paired_folders", "train"), data, 1)))
    assert a.shape[-1] == 3 and b.shape[-1] == 1
    np.testing.assert_allclose((a.numpy() + 1) * 127.5, 128, atol=1e-3)


def test_jpeg_bmp_gif_decode(tmp_path):
    os.makedirs(tmp_path / "trainA")
    os.makedirs(tmp_path / "trainB")
    image = Image.fromarray(np.full((16, 16, 3), 200, np.uint8))
    for ext in ("jpg", "bmp", "gif"):
        image.save(tmp_path / "trainA" / f"x.{ext}")
    image.save(tmp_path / "trainB" / "y.png")
    files = folders.find_unpaired(str(tmp_path), "train")
    assert len(files.a_paths) == 3
    data = data_config("data.preprocess=none")
    for a, b in pipeline.evaluation_set(files, data, 1):
        assert a.shape == b.shape == (1, 16, 16, 3)
        np.testing.assert_allclose((a.numpy() + 1) * 127.5, 200, atol=3)


def test_paired_folders_need_partners(tmp_path):
    for side in ("A", "B"):
        os.makedirs(tmp_path / side / "train")
    Image.new("RGB", (8, 8)).save(tmp_path / "A" / "train" / "one.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "B" / "train" / "two.png")
    with pytest.raises(Tfi2iError, match=r"one.png' has no partner"):
        folders.find_paired(str(tmp_path), "paired_folders", "train")


def test_missing_folder_names_the_layout(tmp_path):
    with pytest.raises(Tfi2iError, match=r"dataset folder '.*train' does not exist; check data.root"):
        folders.find_paired(str(tmp_path), "aligned", "train")


def test_non_image_file_is_named_by_path(tmp_path):
    os.makedirs(tmp_path / "train")
    bad = tmp_path / "train" / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(Tfi2iError, match=rf"'{bad}' is not a readable image"):
        folders.verify_images(folders.find_paired(str(tmp_path), "aligned", "train").all_paths)


def test_truncated_image_is_found_by_full_decode(tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    bad.write_bytes(good.read_bytes()[:400])  # a valid header, then nothing
    assert folders.find_unreadable([str(good), str(bad)]) == str(bad)
    assert folders.find_unreadable([str(good)]) is None


def test_unpaired_stream_epoch_covers_the_larger_domain(tmp_path):
    for domain, count in (("A", 3), ("B", 5)):
        os.makedirs(tmp_path / f"train{domain}")
        for i in range(count):
            value = 10 * i + (0 if domain == "A" else 100)
            Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(tmp_path / f"train{domain}" / f"{i}.png")
    files = folders.find_unpaired(str(tmp_path), "train")
    assert len(files) == 5  # one epoch = max(len A, len B), as the reference
    data = data_config("data.preprocess=none", "data.flip=false")
    batches = list(pipeline.training_stream(files, data, 0, 1).take(5))
    values = lambda side: [int(round((float(b[side][0, 0, 0, 0]) + 1) * 127.5)) for b in batches]  # noqa: E731
    assert sorted(values(1)) == [100, 110, 120, 130, 140]      # every B once
    assert set(values(0)) == {0, 10, 20}                       # every A, the short domain wraps


def test_uncropped_modes_refuse_to_batch_mixed_sizes(tmp_path):
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (16, 8)).save(small)
    Image.new("RGB", (32, 8)).save(large)
    folders.check_batchable([str(small), str(large)], "none", 1)
    folders.check_batchable([str(small), str(large)], "resize_and_crop", 4)
    with pytest.raises(Tfi2iError, match=r"large.png' is 32x8 but .*small.png' is 16x8, so preprocess 'none' cannot batch"):
        folders.check_batchable([str(small), str(large)], "none", 4)


def test_jpegs_decode_to_the_pixels_pil_gives(tmp_path):
    # The reference reads images with PIL; TensorFlow's default (fast) DCT differs by levels.
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.integers(-3, 4, (96, 128, 3)), axis=1) % 256
    path = str(tmp_path / "photo.jpg")
    Image.fromarray(smooth.astype(np.uint8)).save(path, quality=75)
    np.testing.assert_array_equal(images.decode(path, 3).numpy(), np.asarray(Image.open(path).convert("RGB")))
