"""tools/parity.py's task metrics (tools/parity_scores.py), on label maps made here."""

import numpy as np

from tests.tools import load_tool


def load_parity():
    return load_tool("parity_scores")


PALETTE = np.array([[0, 0, 255], [255, 0, 0], [0, 255, 0]] + [[20 * k, 20 * k, 20 * k] for k in range(9)], float)


def as_unit(levels):
    return np.asarray(levels, np.float32) / 127.5 - 1.0


def test_label_scores_count_pixels_and_classes_by_the_nearest_palette_colour():
    parity = load_parity()
    # Truth: left half class 0 (blue), right half class 1 (red), 4x4.
    truth = np.zeros((1, 4, 4, 3))
    truth[:, :, :2] = PALETTE[0]
    truth[:, :, 2:] = PALETTE[1]
    # The translation: noisy colours, and one right-half column painted green (class 2).
    fake = truth + np.random.default_rng(0).uniform(-30, 30, truth.shape)
    fake[:, :, 3] = PALETTE[2] + 10
    scores = parity.label_scores(as_unit(np.clip(fake, 0, 255)), as_unit(truth), PALETTE)
    assert scores["accuracy"] == 12 / 16
    # IoU: class 0 8/8, class 1 4/8, class 2 0/4.
    np.testing.assert_allclose(scores["mean_iou"], (1 + 0.5 + 0) / 3)


def test_a_perfect_translation_scores_one():
    parity = load_parity()
    truth = np.broadcast_to(PALETTE[[0, 1, 2, 3]][None, :, None, :], (2, 4, 4, 3))
    scores = parity.label_scores(as_unit(truth), as_unit(truth), PALETTE)
    assert scores == {"accuracy": 1.0, "mean_iou": 1.0}


def test_the_majority_class_baseline_paints_the_most_common_class_everywhere():
    parity = load_parity()
    # 12 pixels of class 0, 4 of class 1: all class 0 gets 12 / 16 right; IoU 12/16 and 0/4.
    truth = np.zeros((1, 4, 4, 3))
    truth[:] = PALETTE[0]
    truth[:, 0] = PALETTE[1]
    scores = parity.majority_class_scores(as_unit(truth), PALETTE)
    assert scores["accuracy"] == 12 / 16
    np.testing.assert_allclose(scores["mean_iou"], (12 / 16 + 0) / 2)


def test_the_reference_sweep_scores_photos_as_tfi2i_does():
    from tfi2i.metrics import paired

    sweep = load_tool("reference_seeds")
    rng = np.random.default_rng(0)
    fake, real = (rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32) for _ in range(2))
    expected = paired.paired_scores(list(zip(fake, real)), metrics=("l1", "psnr"))
    np.testing.assert_allclose([sweep.photo_scores(fake, real)[k] for k in ("l1", "psnr")],
                               [expected["l1"], expected["psnr"]], rtol=1e-5)
    assert sweep.seed_list(["0-2", "7"]) == [0, 1, 2, 7]


def test_the_mean_photo_baseline_gives_every_input_the_mean_training_photo(tmp_path):
    from PIL import Image

    parity = load_parity()
    # Two training photos (left halves) of levels 50 and 150: their mean is 100 everywhere.
    (tmp_path / "train").mkdir()
    for k, level in enumerate((50, 150)):
        aligned = np.zeros((8, 16, 3), np.uint8)
        aligned[:, :8] = level
        Image.fromarray(aligned).save(tmp_path / "train" / f"{k}.jpg", quality=100)
    photos = as_unit(np.full((1, 8, 8, 3), 120.0))
    scores = parity.mean_photo_scores(str(tmp_path), photos)
    np.testing.assert_allclose(scores["l1"], 20 / 127.5, rtol=1e-5)
    np.testing.assert_allclose(scores["psnr"], 20 * np.log10(255 / 20), rtol=1e-5)


def test_the_summary_gives_the_std_over_seeds_and_welchs_t():
    parity = load_tool("parity")
    # Seeds 1, 2, 3 against 2, 4, 6, 8: variances 1 and 20/3 (n - 1), standard error sqrt(1/3 + 5/3).
    rows = {**{("tfi2i", seed): {"accuracy": float(seed)} for seed in (1, 2, 3)},
            **{("reference", seed): {"accuracy": 2.0 * seed} for seed in (1, 2, 3, 4)}}
    report = {line.split()[0] + " " + line.split()[1]: line.split()[-1] for line in
              parity.summary(rows, ["tfi2i", "reference"]).splitlines() if line.count(" ") > 1}
    assert report["tfi2i std"] == "1.0000" and report["reference std"] == f"{np.sqrt(20 / 3):.4f}"
    assert report["welch t"] == f"{-3 / np.sqrt(2):.2f}" == "-2.12"


def test_the_ratios_interval_is_the_t_interval_when_the_reference_does_not_vary():
    stats = load_tool("parity_stats")
    # tfi2i 1, 2, 3 (mean 2, std 1) against a reference at 4 on every seed: (2 +- t(0.95, 2) sqrt(1/3)) / 4.
    low, high = stats.interval_of_ratio(2.0, 1.0, 3, 4.0, 0.0, 4)
    np.testing.assert_allclose([low, high], [(2 - 2.919986 / np.sqrt(3)) / 4, (2 + 2.919986 / np.sqrt(3)) / 4],
                               rtol=1e-6)
    # A reference mean indistinguishable from 0 bounds no ratio.
    assert stats.interval_of_ratio(1.0, 0.1, 5, 0.1, 1.0, 5) == (-np.inf, np.inf)


def test_columns_constant_on_both_sides_give_an_exact_t_and_ratio_without_warnings():
    import warnings

    stats = load_tool("parity_stats")
    tfi2i = np.array([[0.3, 0.5], [0.3, 0.5]])
    reference = np.array([[0.3, 0.4], [0.3, 0.4], [0.3, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(stats.welch_t(tfi2i, reference), [0.0, np.inf])
        np.testing.assert_allclose(stats.ratio_interval(tfi2i, reference), [[1.0, 1.0], [1.25, 1.25]])


def test_the_ratios_90_percent_interval_covers_the_true_ratio_nine_times_in_ten():
    stats = load_tool("parity_stats")
    # Five seeds a side, means 0.36 and 0.40 (ratio 0.9), the seed spread of the parity runs.
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(2000):
        a, b = rng.normal(0.36, 0.02, (5, 1)), rng.normal(0.40, 0.03, (5, 1))
        [(low, high)] = stats.ratio_interval(a, b)
        covered.append(low <= 0.9 <= high)
    assert 0.88 <= np.mean(covered) <= 0.92, np.mean(covered)  # binomial sd over 2000: 0.0067


def saved_runs(path, rows, steps=1000, ngf=64):
    """A file as parity.py --json writes it, with these (side, seed, step, accuracy) rows."""
    settings = {"size": 128, "load_size": 143, "steps": steps, "epochs": None, "norm": "batch", "ngf": ngf,
                "direction": "a2b"}
    by_step = {}
    for side, seed, step, value in rows:
        by_step.setdefault(step, {})[(side, seed)] = {"accuracy": value, "mean_iou": value / 4}
    load_tool("parity").save_scores(str(path), settings, {"task": "photo2labels", "set": []}, by_step)
    return str(path)


def test_pooling_saved_runs_summarizes_their_seeds_together_step_by_step(tmp_path):
    parity = load_tool("parity")
    # A 1000-step run of seeds 0 and 1 and a 3000-step run of seed 2 scored at step 1000 too.
    first = saved_runs(tmp_path / "a.json", [("tfi2i", 0, 1000, 0.1), ("tfi2i", 1, 1000, 0.2),
                                             ("reference", 0, 1000, 0.3)])
    second = saved_runs(tmp_path / "b.json", [("tfi2i", 2, 1000, 0.6), ("tfi2i", 2, 3000, 0.9),
                                              ("reference", 2, 1000, 0.5)], steps=3000)
    rows = parity.pooled_rows([first, second])
    assert sorted(rows) == [1000, 3000]
    assert sorted(rows[1000]) == [("reference", 0), ("reference", 2), ("tfi2i", 0), ("tfi2i", 1), ("tfi2i", 2)]
    assert rows[3000] == {("tfi2i", 2): {"accuracy": 0.9, "mean_iou": 0.225}}
    means = {line.split()[0]: float(line.split()[2]) for line in
             parity.summary(rows[1000], ["tfi2i", "reference"]).splitlines() if line.split()[1:2] == ["mean"]}
    np.testing.assert_allclose([means["tfi2i"], means["reference"]], [0.3, 0.4])


def test_pooling_refuses_runs_of_another_setting_or_one_run_twice(tmp_path):
    import pytest

    parity = load_tool("parity")
    first = saved_runs(tmp_path / "a.json", [("tfi2i", 0, 1000, 0.1)])
    again = saved_runs(tmp_path / "b.json", [("tfi2i", 0, 1000, 0.2)])
    other = saved_runs(tmp_path / "c.json", [("tfi2i", 1, 1000, 0.2)], ngf=32)
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ValueError, match="tfi2i seed 0 step 1000 is in both .*a.json and .*b.json"):
        parity.pooled_rows([first, again])
    with pytest.raises(ValueError, match="c.json trains photo2labels .*'ngf': 32.*pool runs of one setting"):
        parity.pooled_rows([first, other])
    with pytest.raises(ValueError, match="d.json is not a file of parity.py --json"):
        parity.pooled_rows([first, str(tmp_path / "d.json")])


def test_cross_scoring_builds_the_reference_twin_of_a_runs_generator():
    import torch

    from tfi2i import config as config_lib
    from tfi2i.models import factory

    cross_score = load_tool("cross_score")
    weight_transfer = load_tool("weight_transfer")
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    for overrides in (["model.generator.params={ngf: 8}", "data.crop_size=32"],
                      ["model.name=cyclegan", "model.generator.name=resnet", "data.crop_size=32", "losses=[]",
                       "model.generator.params={ngf: 8, n_blocks: 2, norm: instance}"]):
        config = config_lib.load(None, ["data.root=/facades", *overrides])
        generator = factory.build_model(config).translator("a2b")
        twin = cross_score.reference_twin(config)
        weight_transfer.copy_weights(generator, twin)  # raises where the layer counts differ
        twin.eval()
        with torch.no_grad():
            theirs = twin(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
        np.testing.assert_allclose(generator(x, training=False).numpy(), theirs, atol=1e-5)


def test_the_tfi2i_side_builds_the_references_unet_at_every_size():
    import argparse

    from tfi2i import config as config_lib
    from tfi2i.models import factory

    parity, weight_transfer, ref = load_tool("parity"), load_tool("weight_transfer"), load_tool("reference_torch")
    for size in (32, 64, 256):
        args = argparse.Namespace(task="photo2labels", paper=False, size=size, steps=4, norm=None, ngf=8)
        s = parity.settings(args)
        overrides = parity.tfi2i_overrides(args.task, s, "/facades", seed=0)
        config = config_lib.load(None, [f"{key}={value}" for key, value in overrides.items()])
        generator = factory.build_model(config).generator
        twin = ref.pix2pix_model(size, ngf=8).generator
        weight_transfer.copy_weights(generator, twin)  # raises where the layer counts differ


def test_the_train_mode_tests_parts_are_set_apart():
    import torch

    cross_score = load_tool("cross_score")
    ref = load_tool("reference_torch")
    net = ref.unet_generator(3, 3, 6, ngf=4)  # with dropout and batch norm
    for batch_statistics, dropout in ((True, False), (False, True)):
        cross_score.set_parts(net, batch_statistics, dropout)
        modes = {type(m): m.training for m in net.modules() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout))}
        assert modes == {torch.nn.BatchNorm2d: batch_statistics, torch.nn.Dropout: dropout}


def test_translating_in_train_mode_leaves_the_moving_statistics_alone():
    from tfi2i.nets import generators

    parity = load_tool("parity")
    generator = generators.unet_generator(3, 3, ngf=4, num_downs=5, dropout=False)
    before = [w.numpy().copy() for w in generator.weights]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    translated = parity.keras_translate(generator, x, "train")
    for weight, old in zip(generator.weights, before):
        np.testing.assert_array_equal(weight.numpy(), old, err_msg=weight.path)
    # each image by its own statistics, as training normalizes a batch of one
    expected = np.concatenate([generator(image[None], training=True).numpy() for image in x])
    np.testing.assert_allclose(translated, expected, atol=1e-5)
