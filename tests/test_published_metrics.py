"""Scores comparable with published ones: the 2015 Inception graph (a small stand-in with its
tensor names, built here: the real file is not downloaded), clean resizing, the Inception
Score, FID against SciPy, saved statistics, and the protocol written with every score."""

import hashlib
import json
import os

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from tfi2i import pixels, registry
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError
from tfi2i.evaluation import scoring as scoring_lib
from tfi2i.inference import evaluate
from tfi2i.metrics import clean_resize, features, fid, inception_2015, inception_score
from tfi2i.training import report

STRIDE = 38  # 299 -> 8x8 maps, pooled 8x8 as pool_3 is


def write_small_inception_graph(path, seed=0):
    """A GraphDef with the 2015 graph's tensor names and ops on the path from the decoded JPEG
    to the logits: ExpandDims, a legacy ResizeBilinear to 299, (x - 128) / 128, a strided 1x1
    conv to 2048 channels, the 8x8 average pool pool_3, its reshape and softmax/logits/MatMul
    with softmax/weights, a bias and the softmax. Returns (kernel [3, 2048], weights [2048, 1008])."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0, 0.5, (3, 2048)).astype(np.float32)
    weights = rng.normal(0, 0.05, (2048, 1008)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        expanded = tf.expand_dims(tf.cast(decoded, tf.float32, name="Cast"), 0, name="ExpandDims")
        resized = tf.compat.v1.image.resize_bilinear(expanded, [299, 299], name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1.0 / 128.0, name="Mul")
        conv = tf.nn.conv2d(scaled, kernel[None, None], strides=STRIDE, padding="VALID", name="conv")
        pool = tf.nn.avg_pool2d(conv, 8, 1, "VALID", name="pool_3")
        flat = tf.reshape(pool, [1, 2048], name="pool_3/_reshape")
        logits = tf.matmul(flat, tf.constant(weights, name="softmax/weights"), name="softmax/logits/MatMul")
        biased = tf.nn.bias_add(logits, tf.constant(np.ones(1008, np.float32), name="softmax/biases"),
                                name="softmax/logits")
        tf.nn.softmax(biased, name="softmax")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    return kernel, weights


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("inception") / inception_2015.GRAPH_FILE)
    kernel, weights = write_small_inception_graph(path)
    return path, kernel, weights


def graph_features(levels_299, kernel):
    """What the small graph computes from images already at 299x299 (levels 0-255), in NumPy."""
    sampled = ((levels_299 - 128.0) / 128.0)[:, ::STRIDE, ::STRIDE][:, :8, :8]
    return (sampled @ kernel).mean(axis=(1, 2))


def test_the_2015_graph_loads_and_gives_pool_3_features_and_unbiased_logits(graph_file):
    path, kernel, weights = graph_file
    assert "inception_2015" in registry.names(features.GROUP)
    extractor = features.build("inception_2015", path)
    images = np.random.default_rng(1).uniform(-1, 1, (3, 40, 30, 3)).astype(np.float32)
    out = extractor(images)
    assert out.shape == (3, 2048)
    # legacy_tensorflow: the graph's own (TF1, no half-pixel centres) bilinear resize to 299.
    resized = tf.compat.v1.image.resize_bilinear(pixels.to_levels(images), [299, 299]).numpy()
    np.testing.assert_allclose(out, graph_features(resized, kernel), rtol=1e-4, atol=1e-4)
    # The logits are the features times softmax/weights, without the graph's bias.
    np.testing.assert_allclose(extractor.logits(out), out.astype(np.float64) @ weights, rtol=1e-6)
    assert extractor.protocol == {"feature_network": "inception_2015", "resize": "legacy_tensorflow",
                                  "weights_sha256": hashlib.sha256(open(path, "rb").read()).hexdigest()}
    # A grayscale image is the same image in three channels; batches do not mix.
    np.testing.assert_allclose(extractor(images[:, :, :, :1]), extractor(np.repeat(images[..., :1], 3, -1)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(extractor(images[:1]), out[:1], rtol=1e-5, atol=1e-5)


def test_clean_mode_feeds_the_graph_pil_bicubic_float_images(graph_file):
    path, kernel, _ = graph_file
    extractor = features.build("inception_2015", path, resize="clean")
    images = np.random.default_rng(2).uniform(-1, 1, (2, 50, 64, 3)).astype(np.float32)
    levels = clean_resize.clean_resize(images, 299)
    # The graph's resize of a 299x299 input to 299x299 leaves it as it is.
    np.testing.assert_allclose(extractor(images), graph_features(levels, kernel), rtol=1e-4, atol=1e-4)
    assert extractor.protocol["resize"] == "clean"


def test_clean_resize_is_pil_bicubic_on_float_channels_clipped_to_the_levels():
    images = np.random.default_rng(3).uniform(-1, 1, (2, 37, 23, 3)).astype(np.float32)
    resized = clean_resize.clean_resize(images, 64)
    assert resized.shape == (2, 64, 64, 3) and resized.dtype == np.float32
    for n in range(2):
        for c in range(3):
            channel = ((images[n, :, :, c] + 1.0) * 127.5).astype(np.float32)
            direct = np.asarray(Image.fromarray(channel, mode="F").resize((64, 64), Image.BICUBIC))
            np.testing.assert_allclose(resized[n, :, :, c], np.clip(direct, 0, 255), atol=1e-5)
    assert 0.0 <= resized.min() and resized.max() <= 255.0  # bicubic overshoots; the levels do not


def test_a_missing_or_wrong_graph_file_says_where_the_right_one_is(graph_file, tmp_path):
    where = r"extract classify_image_graph_def.pb from .*inception-2015-12-05.tgz and pass it with " \
            r"--inception-weights PATH \(training: train.eval_feature_weights\)"
    with pytest.raises(Tfi2iError, match="need the 2015 Inception graph; " + where):
        features.build("inception_2015")
    with pytest.raises(Tfi2iError, match="'nothing.pb' does not exist; " + where):
        features.build("inception_2015", "nothing.pb")
    (tmp_path / "junk.pb").write_bytes(b"\xff\xfe not a graph")
    with pytest.raises(Tfi2iError, match="is not a TensorFlow GraphDef"):
        features.build("inception_2015", str(tmp_path / "junk.pb"))
    other = tf.Graph()
    with other.as_default():
        tf.constant(1.0, name="ExpandDims")
    (tmp_path / "other.pb").write_bytes(other.as_graph_def().SerializeToString())
    with pytest.raises(Tfi2iError, match="has no 'pool_3' node, so it is not the 2015 Inception graph"):
        features.build("inception_2015", str(tmp_path / "other.pb"))
    with pytest.raises(Tfi2iError, match="resize 'area' is not one of legacy_tensorflow, clean"):
        features.build("inception_2015", graph_file[0], resize="area")


def test_inception_score_equals_scipy_over_ten_splits():
    logits = np.random.default_rng(4).normal(0, 3, (53, 1008))
    probabilities = scipy.special.softmax(logits, axis=1)
    scores = []
    for i in range(10):
        part = probabilities[i * 53 // 10:(i + 1) * 53 // 10]
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(p, marginal) for p in part])))
    mean, std = inception_score.inception_score(logits, splits=10)
    assert (mean, std) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-9)
    # One class for every image: a score of 1; each image its own sure class: the number of them.
    assert inception_score.inception_score(np.zeros((20, 5)), splits=2)[0] == pytest.approx(1.0)
    assert inception_score.inception_score(np.eye(10) * 50, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 10 images"):
        inception_score.inception_score(logits[:9])


@pytest.mark.parametrize("count, dimension", [(200, 16), (12, 32)])  # full rank, and rank 11 of 32
def test_fid_equals_scipy_sqrtm_including_a_rank_deficient_covariance(count, dimension):
    rng = np.random.default_rng(5)
    real, fake = rng.normal(0, 1, (count, dimension)), rng.normal(0.3, 1.2, (count, dimension))
    (mu_1, sigma_1), (mu_2, sigma_2) = fid.gaussian(real), fid.gaussian(fake)
    if count > dimension:
        root = scipy.linalg.sqrtm(sigma_1 @ sigma_2).real
    else:
        # pytorch-fid's fallback for a singular product: an offset on both diagonals.
        offset = np.eye(dimension) * 1e-10
        root = scipy.linalg.sqrtm((sigma_1 + offset) @ (sigma_2 + offset)).real
    expected = np.sum((mu_1 - mu_2) ** 2) + np.trace(sigma_1) + np.trace(sigma_2) - 2 * np.trace(root)
    assert fid.fid(real, fake) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def colour_statistics(images):
    images = np.asarray(images)
    return np.concatenate([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=-1)


def write_folder(folder, count, seed):
    os.makedirs(folder)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i}.png"))
    return str(folder)


def test_saved_statistics_score_as_the_real_images_did(tmp_path):
    real, fake = write_folder(tmp_path / "real", 12, 0), write_folder(tmp_path / "fake", 12, 1)
    stats = str(tmp_path / "stats")  # no .npz suffix: written where it is named
    scoring = scoring_lib.Scoring(("fid",), extractor=colour_statistics, save_stats=stats)
    direct = evaluate.evaluate_folders(real, fake, scoring)
    with np.load(stats) as saved:
        assert sorted(saved.files) == ["mu", "sigma"] and saved["sigma"].shape == (6, 6)
    against = evaluate.evaluate_folders(None, fake, scoring_lib.Scoring(extractor=colour_statistics, real_stats=stats))
    assert list(against["metrics"]) == ["fid"]  # no real images: KID, precision, recall left out
    assert against["metrics"]["fid"] == pytest.approx(direct["metrics"]["fid"], rel=1e-9)
    assert against["protocol"]["real_statistics"] == stats and against["real_images"] == 0
    np.savez(tmp_path / "small.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(Tfi2iError, match="holds statistics of 3 features, these features have 6 dimensions"):
        evaluate.evaluate_folders(None, fake, scoring_lib.Scoring(extractor=colour_statistics,
                                                                  real_stats=str(tmp_path / "small.npz")))


def test_cli_writes_the_protocol_beside_the_scores(graph_file, runs, tmp_path):
    run_dir, _ = runs["cut"]
    out = str(tmp_path / "scores.json")
    result = CliRunner().invoke(cli, [
        "evaluate", "--model", run_dir, "--features", "inception_2015",
        "--inception-weights", graph_file[0], "--resize", "clean", "--metrics", "fid,inception_score",
        "--is-splits", "2", "--out", out])
    assert result.exit_code == 0, result.output
    record = json.load(open(out))
    assert sorted(record["metrics"]) == ["fid", "inception_score", "inception_score_std"]
    protocol = record["protocol"]
    assert protocol["feature_network"] == "inception_2015" and protocol["resize"] == "clean"
    assert protocol["weights_sha256"] == hashlib.sha256(open(graph_file[0], "rb").read()).hexdigest()
    assert (protocol["split"], protocol["checkpoint_step"], protocol["inception_score_splits"]) == ("test", 2, 2)
    assert protocol["images"] == record["images"] and protocol["real_images"] == record["real_images"]
    expected_hash = hashlib.sha256(open(os.path.join(run_dir, "config.yaml"), "rb").read()).hexdigest()
    assert protocol["config_sha256"] == expected_hash
    assert "protocol: feature_network inception_2015, weights_sha256 " in result.output
    assert "inception_score " in result.output and " +- " in result.output
    # The run's report shows the protocol line under the table.
    assert "protocol: feature_network inception_2015, weights_sha256 " in report._metrics_table("scores", record)


def test_the_inception_score_needs_logits():
    with pytest.raises(Tfi2iError, match="inception_score needs class logits, which the 'inception_v3' features "
                                         "lack; use --features inception_2015"):
        scoring_lib.plan(scoring_lib.Scoring(("inception_score",), extractor=colour_statistics),
                         _Images(12), two_way=False, extractor_name="inception_v3")


class _Images:
    def __init__(self, count):
        self.sources = self.reals = tuple(range(count))
        self.targets = None
