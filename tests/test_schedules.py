import numpy as np
import pytest

from tfi2i.errors import Tfi2iError
from tfi2i.schedules import EpochSchedule, LearningRatePlateau, PlateauSchedule
from tfi2i.training.assembly import assemble


def lr_at_epoch(schedule, epoch):
    return float(schedule(epoch * schedule.steps_per_epoch + schedule.steps_per_epoch // 2))


def test_linear_keeps_then_decays_to_near_zero_like_the_reference():
    s = EpochSchedule(2e-4, steps_per_epoch=10, policy="linear", n_epochs=100, n_epochs_decay=100)
    assert lr_at_epoch(s, 0) == pytest.approx(2e-4)
    assert lr_at_epoch(s, 99) == pytest.approx(2e-4)
    assert lr_at_epoch(s, 100) == pytest.approx(2e-4 * (1 - 1 / 101))
    assert lr_at_epoch(s, 199) == pytest.approx(2e-4 * (1 - 100 / 101))
    # Constant within an epoch: the change happens at the boundary.
    assert float(s(1009)) == pytest.approx(float(s(1000)))
    assert float(s(1010)) < float(s(1009))


def test_step_cosine_constant():
    step = EpochSchedule(1.0, 5, policy="step", decay_epochs=3)
    assert [round(lr_at_epoch(step, e), 6) for e in (0, 2, 3, 6)] == [1.0, 1.0, 0.1, 0.01]
    cosine = EpochSchedule(1.0, 5, policy="cosine", n_epochs=10)
    assert lr_at_epoch(cosine, 0) == pytest.approx(1.0)
    assert lr_at_epoch(cosine, 5) == pytest.approx(0.5)
    assert lr_at_epoch(cosine, 10) == pytest.approx(0.0, abs=1e-7)
    assert lr_at_epoch(EpochSchedule(3.0, 5, policy="constant"), 77) == 3.0


@pytest.mark.parametrize("mode", ["min", "max"])
def test_plateau_lowers_the_rate_as_torch_reduce_lr_on_plateau(mode):
    """The reference's --lr_policy plateau is torch's ReduceLROnPlateau (factor 0.2, threshold
    0.01 relative, patience 5): the same values give the same rates, epoch by epoch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # Improving, then stalling for long stretches, then a drop, then stalling again.
    values = np.concatenate([np.linspace(5, 3, 6), 3 + rng.uniform(0, 0.2, 14), [1.0], 1 + rng.uniform(0, 0.05, 16)])
    if mode == "max":
        values = -values + 10
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=2e-4)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=0.2, threshold=0.01, patience=5, min_lr=1e-6)
    plateau = LearningRatePlateau(2e-4, factor=0.2, patience=5, threshold=0.01, mode=mode, min_lr=1e-6)
    schedule = PlateauSchedule(plateau)
    ours, theirs = [], []
    for value in values:
        reference.step(float(value))
        plateau.observe(float(value))
        theirs.append(optimizer.param_groups[0]["lr"])
        ours.append(float(schedule(0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert len(set(np.round(theirs, 12))) >= 3  # the rate was lowered more than once, down to min_lr
    assert min(theirs) == pytest.approx(1e-6)


def _plateau_run(tiny_config, run_dir, epochs):
    config = tiny_config("train.lr_policy=plateau", "train.plateau={monitor: g_total, patience: 0, threshold: 0.99}",
                         "train.steps_per_epoch=1", f"train.n_epochs={epochs}", "train.n_epochs_decay=0")
    lines = []
    trainer = assemble(config, run_dir, log=lines.append)
    trainer.fit()
    return trainer, lines


def test_a_plateau_run_lowers_both_rates_and_resumes_its_count(tiny_config, tmp_path):
    """Epoch 1 sets the best; no later epoch beats it by 99%, so with patience 0 every later
    epoch lowers the rate by 0.2. The plateau's state is in the checkpoint: a resumed run
    goes on from the lowered rate."""
    trainer, lines = _plateau_run(tiny_config, str(tmp_path / "run"), epochs=3)
    rates = [float(o.learning_rate.numpy()) for o in trainer.model.optimizers.values()]
    assert rates == pytest.approx([2e-4 * 0.2**2] * 2)
    assert sum("g_total has not improved for 1 epoch; learning rate now" in line for line in lines) == 2
    resumed, _ = _plateau_run(tiny_config, str(tmp_path / "run"), epochs=4)
    assert resumed.step == 4
    assert float(resumed.model.generator_optimizer.learning_rate.numpy()) == pytest.approx(2e-4 * 0.2**3)


def test_a_monitor_that_is_never_logged_is_named(tiny_config, tmp_path):
    config = tiny_config("train.lr_policy=plateau", "train.plateau.monitor=g_l2")
    with pytest.raises(Tfi2iError, match=r"'train.plateau.monitor' is 'g_l2', which training does not log; "
                                         r"set it to one of g_total, g_gan, l1, d_total, d_gan$"):
        assemble(config, str(tmp_path / "run"), log=lambda _: None)
