import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i import Tfi2iError, registry
from tfi2i.losses import Translation
from tfi2i_gait.sobel_loss import GradientAdjustmentLoss

# A 4x4 horizontal ramp, 0.25 per column. Sobel (reflect padding) gives dy = 0 everywhere and
# dx = (x[j+1] - x[j-1]) * (1 + 2 + 1) = 2.0 in the two inner columns, 0 in the border ones,
# where the reflected neighbour equals the other one.
RAMP = tf.constant(np.tile(np.arange(4, dtype=np.float32) * 0.25, (4, 1))[None, :, :, None])
# Squared Sobel response summed: 4 rows x 2 inner columns x 2.0^2 = 32, over 4 x 4 x 1 x 2 values.
RAMP_SUM_OF_SQUARES = 32.0
RAMP_MEAN_SQUARE = 32.0 / 32


def loss_value(source, translated, **params):
    return GradientAdjustmentLoss(**params)(Translation(source=source, translated=translated)).numpy()


def test_registered_as_a_loss_plugin_through_its_own_entry_point():
    assert registry.load("tfi2i.losses", "gait_sobel") is GradientAdjustmentLoss
    entry = next(e for e in registry.entries("tfi2i.losses") if e.name == "gait_sobel")
    assert entry.distribution == "tfi2i-gait"


def test_core_never_imports_the_plugin():
    import tfi2i

    core = pathlib.Path(tfi2i.__file__).parent
    assert not [p for p in core.rglob("*.py") if "tfi2i_gait" in p.read_text()]


def test_sobel_response_of_the_ramp_is_the_hand_computed_one():
    response = GradientAdjustmentLoss().sobel(RAMP)[0, :, :, 0].numpy()
    np.testing.assert_allclose(response[..., 0], 0.0, atol=1e-6)                  # dy
    np.testing.assert_allclose(response[..., 1], [[0, 2, 2, 0]] * 4, atol=1e-6)   # dx


def test_zero_loss_when_the_translation_is_the_source_and_alpha_is_one():
    image = tf.random.stateless_uniform([2, 8, 8, 3], seed=[1, 2], minval=-1, maxval=1)
    np.testing.assert_allclose(loss_value(image, image), [0.0, 0.0], atol=1e-10)
    np.testing.assert_allclose(loss_value(image, image, reduction="l2_norm"), [0.0, 0.0], atol=1e-10)


def test_exact_value_on_the_ramp():
    flat = tf.zeros_like(RAMP)
    np.testing.assert_allclose(loss_value(RAMP, flat), [RAMP_MEAN_SQUARE], rtol=1e-6)
    np.testing.assert_allclose(loss_value(RAMP, flat, reduction="l2_norm"), [np.sqrt(RAMP_SUM_OF_SQUARES)], rtol=1e-6)
    # A flat source: the translation's own edges are penalised.
    np.testing.assert_allclose(loss_value(flat, RAMP), [RAMP_MEAN_SQUARE], rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 2.0, 3.0])
def test_alpha_scales_the_source_gradients(alpha):
    # G(x) = x leaves (1 - alpha) S(x): the mean square scales by (1 - alpha)^2, the norm by |1 - alpha|.
    np.testing.assert_allclose(loss_value(RAMP, RAMP, alpha=alpha), [(1 - alpha) ** 2 * RAMP_MEAN_SQUARE], rtol=1e-5)
    np.testing.assert_allclose(
        loss_value(RAMP, RAMP, alpha=alpha, reduction="l2_norm"), [abs(1 - alpha) * np.sqrt(RAMP_SUM_OF_SQUARES)], rtol=1e-5
    )
    # A translation with alpha times the edges is what the loss asks for.
    np.testing.assert_allclose(loss_value(RAMP, alpha * RAMP, alpha=alpha), [0.0], atol=1e-10)


def test_one_value_per_example():
    images = tf.concat([RAMP, tf.zeros_like(RAMP)], axis=0)
    np.testing.assert_allclose(loss_value(images, tf.zeros_like(images)), [RAMP_MEAN_SQUARE, 0.0], atol=1e-6)


def test_grayscale_compares_luma_edges_across_channel_counts():
    rgb = tf.concat([RAMP, tf.zeros_like(RAMP), tf.zeros_like(RAMP)], axis=-1)  # ramp in red only
    luma = 0.2989 * RAMP  # ITU-R 601 weight of red, as tf.image.rgb_to_grayscale
    np.testing.assert_allclose(loss_value(rgb, luma, grayscale=True), [0.0], atol=1e-6)
    with pytest.raises(Tfi2iError, match="grayscale: true"):
        loss_value(rgb, luma)


def test_bad_reduction_is_refused():
    with pytest.raises(Tfi2iError, match="mean_squared, l2_norm"):
        GradientAdjustmentLoss(reduction="sum")


@pytest.mark.parametrize("reduction", ["mean_squared", "l2_norm"])
def test_gradient_reaches_the_generator_and_descent_lowers_the_loss(reduction):
    generator = registry.load("tfi2i.generators", "resnet")(3, 3, ngf=4, n_blocks=1, name="g")
    loss = GradientAdjustmentLoss(reduction=reduction)
    source = tf.random.stateless_uniform([2, 16, 16, 3], seed=[3, 4], minval=-1, maxval=1)
    optimizer = keras.optimizers.Adam(1e-2)
    values = []
    for _ in range(20):
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(Translation(source=source, translated=generator(source, training=True))))
        grads = tape.gradient(value, generator.trainable_variables)
        assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
        assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0
        optimizer.apply_gradients(zip(grads, generator.trainable_variables))
        values.append(float(value))
    assert values[-1] < 0.5 * values[0]


@pytest.mark.parametrize("name, alpha", [("gait_alpha1.yaml", 1.0), ("gait_alpha2.yaml", 2.0)])
def test_gait_configs_are_the_papers_setting(name, alpha):
    from tfi2i import config as config_lib

    path = pathlib.Path(__file__).parents[3] / "configs" / name
    config = config_lib.load(str(path), ["data.root=/data"])
    assert (config.model.name, config.model.gan_loss.name, config.model.generator.name) == (
        "cyclegan", "lsgan", "resnet_9blocks")
    assert [(loss.name, loss.weight, loss.params) for loss in config.losses] == [
        ("cycle_l1", 10.0, {}), ("gait_sobel", 630.0, {"alpha": alpha, "reduction": "mean_squared"})]
    assert config.optimizer.lr == 1e-4


def test_applies_to_unit_as_to_any_model(tmp_path):
    # The loss reads only source and translated, which every model provides: here a tiny UNIT.
    from tfi2i import config as config_lib
    from tfi2i.models import factory
    from tfi2i.data import folders, pipeline, synthetic

    root = synthetic.write_unpaired(str(tmp_path / "data"), count=4, size=32, seed=0)
    config = config_lib.load(None, [
        f"data.root={root}", "data.layout=unaligned", "data.load_size=32", "data.crop_size=32",
        "train.batch_size=2", "model.name=unit", "model.generator={name: unit, params: {ngf: 8, n_blocks: 1}}",
        "model.discriminator={name: unit, params: {ndf: 8, n_layers: 2}}",
        "losses=[{name: cycle_l1, weight: 100}, {name: gait_sobel, weight: 630, params: {alpha: 2.0}}]",
    ])
    model = factory.build_model(config)
    model.compile(factory.build_optimizer(config, 2), factory.build_optimizer(config, 2))
    real_a, real_b = next(iter(pipeline.training_stream(folders.find_unpaired(root, "train"), config.data, 0, 2)))
    g_terms, _ = model.loss_terms(real_a, real_b, training=False)
    for direction, source in (("a2b", real_a), ("b2a", real_b)):
        t = model.translate(source, None, direction, training=False)
        expected = 630 * loss_value(source, t.translated, alpha=2.0)
        np.testing.assert_allclose(g_terms[f"gait_sobel_{direction}"], expected, rtol=1e-5)
    logs = model.train_step((real_a, real_b))
    assert np.isfinite(float(logs["gait_sobel_a2b"])) and np.isfinite(float(logs["gait_sobel_b2a"]))


def test_the_sobel_cannot_see_a_one_pixel_checkerboard_and_forward_differences_can():
    """The loophole: on a flat source, a checkerboard translation costs nothing under the
    paper's operator; sobel_and_forward charges it as edges."""
    rows, cols = np.indices((8, 8))
    checkerboard = tf.constant((0.5 * (-1.0) ** (rows + cols)).astype(np.float32)[None, :, :, None])
    flat = tf.zeros_like(checkerboard)
    np.testing.assert_allclose(loss_value(flat, checkerboard), [0.0], atol=1e-10)
    # Forward differences are +-1 (x gain sqrt(32)) in 7 of 8 rows / columns, in both directions:
    # squares 32 in 2 x 56 of 2 x 64 values; the two operators' means are summed.
    expected = 32.0 * (2 * 56) / (2 * 64)
    np.testing.assert_allclose(loss_value(flat, checkerboard, operator="sobel_and_forward"), [expected], rtol=1e-5)


def test_sobel_and_forward_keeps_the_paper_term_and_zero_at_the_source():
    image = tf.random.stateless_uniform([2, 8, 8, 3], seed=[3, 4], minval=-1, maxval=1)
    np.testing.assert_allclose(loss_value(image, image, operator="sobel_and_forward"), [0.0, 0.0], atol=1e-10)
    flat = tf.zeros_like(RAMP)
    # The ramp's forward differences: 0.25 x sqrt(32) in 3 of 4 columns (dx), none in dy:
    # squares 2.0 in 12 of 32 values, on top of the Sobel term's mean.
    np.testing.assert_allclose(
        loss_value(RAMP, flat, operator="sobel_and_forward"), [RAMP_MEAN_SQUARE + 2.0 * 12 / 32], rtol=1e-5)
    with pytest.raises(Tfi2iError, match="operator"):
        GradientAdjustmentLoss(operator="laplace")
