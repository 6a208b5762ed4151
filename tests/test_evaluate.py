import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.images import in_process, random_pixels
from tfi2i import registry
from tfi2i.evaluation import image_sets, scoring as scoring_lib
from tfi2i.inference import evaluate, export
from tfi2i.cli import cli
from tfi2i.data import synthetic
from tfi2i.errors import Tfi2iError
from tfi2i.metrics import features, fid, kid, paired, precision_recall


def colour_statistics(images):
    """A tiny stand-in feature extractor: per-channel mean and standard deviation."""
    images = np.asarray(images)
    return np.concatenate([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=-1)


@pytest.fixture(scope="module")
def test_root(tmp_path_factory):
    """An unpaired set with 8 test images per side and their true translations (testA_truth/)."""
    return synthetic.write_unpaired(str(tmp_path_factory.mktemp("evaluate")), count=64, size=32, seed=1)


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """A weights file in the format of Keras' InceptionV3 files (untrained weights: no download)."""
    path = str(tmp_path_factory.mktemp("weights") / "inception.weights.h5")
    keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None, input_shape=(299, 299, 3)
                                   ).save_weights(path)
    return path


def load_all(folder, channels=3):
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    return [image_sets.ImageRef(p).load(channels) for p in paths]


def test_a_runs_scores_equal_the_metrics_on_its_own_translations(runs, test_root):
    run_dir, model = runs["cyclegan"]
    scoring = scoring_lib.Scoring(extractor=colour_statistics, kid_subset_size=4, kid_subsets=3)
    record, path = evaluate.evaluate_model(run_dir, scoring, data_root=test_root)
    assert path == os.path.join(run_dir, "evaluation", "test_a2b_step2.json")
    assert (record["direction"], record["step"], record["split"], record["images"]) == ("a2b", 2, "test", 8)

    # The same numbers, computed here from the Keras model and the folders.
    sources = load_all(os.path.join(test_root, "testA"))
    fakes = [in_process(model, "a2b", s[None])[0] for s in sources]
    back = [in_process(model, "b2a", f[None])[0] for f in fakes]
    reals, truths = load_all(os.path.join(test_root, "testB")), load_all(os.path.join(test_root, "testA_truth"))
    real_f, fake_f = colour_statistics(reals), colour_statistics(fakes)
    expected = {
        "fid": fid.fid(real_f, fake_f),
        "kid": kid.kid(real_f, fake_f, 4, 3)[0],
        "kid_std": kid.kid(real_f, fake_f, 4, 3)[1],
        "precision": precision_recall.precision_recall(real_f, fake_f)[0],
        "recall": precision_recall.precision_recall(real_f, fake_f)[1],
        **paired.paired_scores(zip(fakes, truths)),
        "cycle_l1": np.mean([np.abs(b - s).mean() for b, s in zip(back, sources)]),
    }
    assert list(record["metrics"]) == list(expected)  # every metric applies, in the table's order
    for name, value in expected.items():
        assert record["metrics"][name] == pytest.approx(value, rel=1e-3, abs=1e-5), name


def test_b2a_reads_the_split_the_other_way(runs, test_root):
    scoring = scoring_lib.Scoring(metrics=("l1",), extractor=None)
    with pytest.raises(Tfi2iError, match="has no known targets"):  # no testB_truth/
        evaluate.evaluate_model(runs["cyclegan"][0], scoring, data_root=test_root, direction="b2a")
    record, path = evaluate.evaluate_model(runs["cyclegan"][0], scoring_lib.Scoring(("cycle_l1",)), test_root,
                                             direction="b2a")
    assert path.endswith("test_b2a_step2.json") and record["real_images"] == 8


def test_aligned_layout_pairs_halves_and_reverses(paired_root):
    forward = image_sets.from_split(paired_root, "test", reverse=False)
    backward = image_sets.from_split(paired_root, "test", reverse=True)
    files = sorted(os.listdir(os.path.join(paired_root, "test")))
    assert len(forward.sources) == len(files) == 2
    for i, name in enumerate(files):
        pixels = np.asarray(Image.open(os.path.join(paired_root, "test", name)).convert("RGB")) / 127.5 - 1.0
        left, right = pixels[:, :32], pixels[:, 32:]
        np.testing.assert_allclose(forward.sources[i].load(3), left, atol=1e-6)
        np.testing.assert_allclose(forward.targets[i].load(3), right, atol=1e-6)
        np.testing.assert_allclose(backward.sources[i].load(3), right, atol=1e-6)
        np.testing.assert_allclose(backward.targets[i].load(3), left, atol=1e-6)
    assert forward.reals == forward.targets and backward.reals == backward.targets
    with pytest.raises(Tfi2iError, match="holds no 'val2' split"):
        image_sets.from_split(paired_root, "val2", reverse=False)


def test_an_export_is_scored_against_data_it_is_given(runs, test_root, tmp_path):
    path = export.export(runs["cyclegan"][0], str(tmp_path / "models"), "a2b")
    scoring = scoring_lib.Scoring(metrics=("l1", "psnr"))
    with pytest.raises(Tfi2iError, match="is an export, so it knows no dataset; give --data"):
        evaluate.evaluate_model(path, scoring)
    record, json_path = evaluate.evaluate_model(path, scoring, data_root=test_root)
    assert json_path == os.path.join(tmp_path, "models", "cyclegan_a2b", "evaluation", "v1_test_a2b_step2.json")
    from_run, _ = evaluate.evaluate_model(runs["cyclegan"][0], scoring, data_root=test_root)
    assert record["metrics"] == pytest.approx(from_run["metrics"], rel=1e-4)
    # Its protocol names the run it came from as the run's own does.
    assert record["protocol"]["config_sha256"] == from_run["protocol"]["config_sha256"] is not None
    with pytest.raises(Tfi2iError, match="cycle_l1 needs both directions of a two-way run"):
        evaluate.evaluate_model(path, scoring_lib.Scoring(("cycle_l1",)), data_root=test_root)


def write(folder, name, pixels):
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(pixels).save(os.path.join(folder, name))


def test_two_folders_paired_by_name(tmp_path):
    real, fake = str(tmp_path / "real"), str(tmp_path / "fake")
    for i in range(5):
        pixels = random_pixels(16, 16, 3, i).clip(0, 245)
        write(real, f"{i}.jpg" if i == 0 else f"{i}.png", pixels)
        write(fake, f"{i}.png", pixels + 10)  # every pixel 10 levels off
    scoring = scoring_lib.Scoring(extractor=colour_statistics, kid_subset_size=5, kid_subsets=2, k=2)
    record = evaluate.evaluate_folders(real, fake, scoring)
    metrics = record["metrics"]
    assert list(metrics) == ["fid", "kid", "kid_std", "precision", "recall", "pixel_accuracy", "l1", "psnr", "ssim"]
    # 0.jpg is lossy: the exact figures hold for the four PNG pairs, so only bounds for all five.
    assert 0.79 <= metrics["pixel_accuracy"] <= 1.0
    only_png = evaluate.evaluate_folders(real, fake, scoring_lib.Scoring(("l1", "psnr", "pixel_accuracy")))
    assert only_png["metrics"]["pixel_accuracy"] >= 0.8

    os.remove(os.path.join(real, "0.jpg"))
    os.remove(os.path.join(fake, "0.png"))
    exact = evaluate.evaluate_folders(real, fake, scoring_lib.Scoring(("l1", "psnr", "pixel_accuracy")))["metrics"]
    assert exact == {"l1": pytest.approx(10 / 127.5), "psnr": pytest.approx(10 * np.log10(255**2 / 100), rel=1e-5),
                     "pixel_accuracy": 1.0}

    write(fake, "extra.png", random_pixels(16, 16, 3))
    assert "l1" not in evaluate.evaluate_folders(real, fake, scoring)["metrics"]  # unmatched: no paired metrics
    with pytest.raises(Tfi2iError, match="'.*extra.png' has no image of the same name"):
        evaluate.evaluate_folders(real, fake, scoring_lib.Scoring(("l1",)))


def test_inception_features_from_a_weights_file(inception_weights):
    assert "inception_v3" in registry.names(features.GROUP)
    extractor = features.build("inception_v3", inception_weights)
    rgb = np.random.default_rng(0).uniform(-1, 1, (2, 40, 30, 3)).astype(np.float32)
    out = extractor(rgb)
    assert out.shape == (2, 2048)
    np.testing.assert_allclose(extractor(rgb[:1]), out[:1], rtol=1e-4, atol=1e-6)
    # A grayscale image is the same image in three equal channels.
    gray = rgb[..., :1]
    np.testing.assert_allclose(extractor(gray), extractor(np.repeat(gray, 3, axis=-1)), rtol=1e-4, atol=1e-6)
    # Resized to 299 and scaled as preprocess_input: equal to the network on that input.
    resized = keras.ops.image.resize(rgb, (299, 299), interpolation="bilinear")
    np.testing.assert_allclose(out, extractor.network(resized), rtol=1e-3, atol=1e-5)


def test_missing_inception_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cache = os.path.join(tmp_path, "keras", "models", features.INCEPTION_WEIGHTS_FILE)
    with pytest.raises(Tfi2iError, match=f"no InceptionV3 weights in the Keras cache .*download "
                                         f"{features.INCEPTION_WEIGHTS_URL} to {cache} or pass --inception-weights"):
        features.build()
    with pytest.raises(Tfi2iError, match="'nothing.h5' does not exist"):
        features.build(weights="nothing.h5")
    (tmp_path / "bad.h5").write_bytes(b"not weights")
    with pytest.raises(Tfi2iError, match="does not hold InceptionV3"):
        features.build(weights=str(tmp_path / "bad.h5"))


def test_cli_evaluate_prints_a_table_and_writes_json(runs, test_root, inception_weights):
    run_dir, _ = runs["unit"]
    result = CliRunner().invoke(cli, ["evaluate", "--model", run_dir, "--data", test_root, "--inception-weights",
                                      inception_weights, "--kid-subset-size", "4", "--kid-subsets", "2",
                                      "--metrics", "fid,kid,l1,cycle_l1"])
    assert result.exit_code == 0, result.output
    *table, protocol = result.stdout.splitlines()
    assert table[0].split() == ["metric", "value"]
    assert [line.split()[0] for line in table[1:]] == ["fid", "kid", "l1", "cycle_l1"]
    assert "+-" in table[2]
    # Under the table, how the feature metrics were computed: Keras' network is labelled as such.
    assert protocol.startswith("protocol: feature_network inception_v3 (Keras; not comparable with published "
                               "scores), weights_sha256 ")
    saved = json.load(open(os.path.join(run_dir, "evaluation", "test_a2b_step2.json")))
    assert set(saved["metrics"]) == {"fid", "kid", "kid_std", "l1", "cycle_l1"}
    assert f"{saved['metrics']['l1']:.4f}" == table[3].split()[1]


@pytest.mark.parametrize("args, message", [
    (["--metrics", "l1"], "give either --model (with --data) or --fake with --real (or --real-stats)"),
    (["--model", "x", "--real", "y", "--fake", "z"], "give either --model"),
    (["--real", "y", "--metrics", "l1"], "give either --model"),
    (["--real", "y", "--fake", "z", "--metrics", "fid,sharpness"], "unknown metric 'sharpness'; pick from fid, kid"),
    (["--real", "y", "--fake", "z", "--metrics", "l1"], "folder 'y' does not exist"),
    (["--fake", "z", "--real-stats", "none.npz"], "--real-stats 'none.npz' does not exist; write one with --save-stats"),
    (["--fake", "z", "--real-stats", __file__, "--save-stats", "s.npz"], "--save-stats writes the real images'"),
])
def test_cli_evaluate_refuses_bad_arguments_in_one_line(args, message):
    result = CliRunner().invoke(cli, ["evaluate", *args])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"error: {message}")


def test_cli_evaluate_without_inception_weights_says_where_they_go(runs, test_root, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    result = CliRunner().invoke(cli, ["evaluate", "--model", runs["cyclegan"][0], "--data", test_root])
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: no InceptionV3 weights in the Keras cache")
    assert line.endswith("or pass --inception-weights PATH (or score without features: "
                         "--metrics pixel_accuracy,l1,psnr,ssim,cycle_l1)")
    result = CliRunner().invoke(cli, ["evaluate", "--model", runs["cyclegan"][0], "--data", test_root,
                                      "--metrics", "l1,cycle_l1", "--out", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    assert set(json.load(open(tmp_path / "e.json"))["metrics"]) == {"l1", "cycle_l1"}
