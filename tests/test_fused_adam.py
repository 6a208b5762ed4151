import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i.kernels.adam import Adam
from tfi2i.kernels.fused_adam import FusedAdam
from tfi2i.schedules import EpochSchedule

SHAPES = [(3, 3, 4, 8), (8,), (5, 7)]


def trained(optimizer, steps=4):
    """Variables and the optimizer's moments after `steps` updates with seeded gradients that
    change sign and size from step to step."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in SHAPES]
    optimizer.build(variables)
    apply = tf.function(lambda gradients: optimizer.apply(gradients, variables))
    for _ in range(steps):
        apply([tf.constant(rng.normal(size=shape, scale=rng.uniform(0.1, 10)).astype("float32")) for shape in SHAPES])
    return [v.numpy() for v in variables + optimizer._momentums + optimizer._velocities]


@pytest.mark.parametrize("settings", [
    dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999),
    dict(learning_rate=EpochSchedule(0.1, 2, "linear", 1, 2, 50), beta_1=0.9, beta_2=0.99, epsilon=1e-3),
])
def test_fused_adam_matches_keras_adam(settings):
    fused, plain = trained(FusedAdam(**settings)), trained(keras.optimizers.Adam(**settings))
    start = trained(keras.optimizers.Adam(**settings), steps=0)
    for f, p, s in zip(fused, plain, start, strict=True):
        assert np.abs(p - s).max() > 1e-5  # every variable and moment moved
        # The kernel takes 1 - beta_2 from float32 beta_2 (Keras from the Python float):
        # 1.3e-5 relative on the second moment at beta_2 = 0.999.
        np.testing.assert_allclose(f, p, rtol=2e-5, atol=1e-7)


def test_amsgrad_takes_keras_update():
    for f, p in zip(trained(FusedAdam(amsgrad=True)), trained(keras.optimizers.Adam(amsgrad=True)), strict=True):
        np.testing.assert_array_equal(f, p)


def test_a_keras_adam_checkpoint_restores_into_fused_adam(tmp_path):
    """Runs saved with keras.optimizers.Adam resume with FusedAdam: the same variables."""
    variable = keras.Variable(np.ones((4,), "float32"))
    plain = keras.optimizers.Adam(1e-2)
    plain.apply([tf.constant([1.0, -2.0, 3.0, -4.0])], [variable])
    path = tf.train.Checkpoint(optimizer=plain).save(str(tmp_path / "ckpt"))
    fused = FusedAdam(1e-2)
    fused.build([variable])
    tf.train.Checkpoint(optimizer=fused).restore(path).assert_consumed()
    assert int(fused.iterations.numpy()) == 1
    np.testing.assert_array_equal(fused._momentums[0].numpy(), plain._momentums[0].numpy())


def test_fused_adam_serializes_as_itself():
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(FusedAdam(3e-4, beta_1=0.5)))
    assert type(restored) is FusedAdam and restored.beta_1 == 0.5


@pytest.mark.parametrize("adam", [Adam, FusedAdam])
def test_paper_epsilon_is_added_to_the_bias_corrected_second_moment(adam):
    """epsilon_form 'paper' is torch.optim.Adam's update: epsilon on sqrt(v_hat). With
    gradients near epsilon, the forms differ by far more than float rounding."""
    settings = dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-3)
    rng = np.random.default_rng(0)
    variables = [rng.normal(size=shape) for shape in SHAPES]
    m, v = [np.zeros(shape) for shape in SHAPES], [np.zeros(shape) for shape in SHAPES]
    for t in range(1, 5):
        gradients = [rng.normal(size=shape, scale=rng.uniform(0.1, 10)).astype("float32") for shape in SHAPES]
        for i, g in enumerate(gradients):
            m[i] = 0.5 * m[i] + 0.5 * g
            v[i] = 0.999 * v[i] + 0.001 * g.astype(np.float64) ** 2
            m_hat, v_hat = m[i] / (1 - 0.5**t), v[i] / (1 - 0.999**t)
            variables[i] = variables[i] - 2e-4 * m_hat / (np.sqrt(v_hat) + 1e-3)
    paper = trained(adam(epsilon_form="paper", **settings))[: len(SHAPES)]
    keras_form = trained(adam(epsilon_form="keras", **settings))[: len(SHAPES)]
    for p, k, expected in zip(paper, keras_form, variables, strict=True):
        np.testing.assert_allclose(p, expected, rtol=0, atol=1e-6)
        assert np.abs(k - expected).max() > 1e-5
