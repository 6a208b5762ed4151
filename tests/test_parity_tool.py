"""tools/parity.py's task metrics, on label maps made here."""

import numpy as np

from tests.tools import load_tool


def load_parity():
    return load_tool("parity")


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
