import pytest

from tfi2i.schedules import EpochSchedule


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
