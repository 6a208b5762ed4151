import os
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i.data import folders, pipeline
from tfi2i.errors import Tfi2iError
from tfi2i.run.checkpoints import saved_steps
from tfi2i.run.restore import restore_model
from tfi2i.training.assembly import assemble


def val_l1(model, config):
    files = folders.find_paired(config.data.root, "aligned", "val")
    losses = [float(tf.reduce_mean(tf.abs(model(a) - b))) for a, b in pipeline.evaluation_set(files, config.data, 4)]
    return float(np.mean(losses)), files


def test_pix2pix_learns_the_synthetic_mapping(tiny_config, tmp_path):
    # 16 examples, batch 2: 8 steps an epoch, 25 epochs = 200 steps; a higher learning
    # rate than the paper's so that 200 steps of a tiny net show the mapping.
    config = tiny_config("train.n_epochs=25", "train.n_epochs_decay=0", "train.sample_every_epochs=25",
                         "optimizer.lr=1e-3")
    trainer = assemble(config, str(tmp_path / "run"), log=lambda _: None)
    before, files = val_l1(trainer.model, config)
    result = trainer.fit()
    after, _ = val_l1(trainer.model, config)
    assert result.step == 200
    # The per-pixel median of the targets is the best any model that ignores its input
    # can do in L1; a model that learned the mapping beats it by a wide margin.
    targets = np.concatenate([b.numpy() for _, b in pipeline.evaluation_set(files, config.data, 4)])
    constant = float(np.mean(np.abs(targets - np.median(targets, axis=0))))
    assert after < 0.5 * before
    assert after < 0.75 * constant, (before, after, constant)


class SignalAtStep(keras.callbacks.Callback):
    def __init__(self, step, signum=signal.SIGTERM):
        super().__init__()
        self.step, self.signum = step, signum

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.generator_optimizer.iterations.numpy()) == self.step:
            os.kill(os.getpid(), self.signum)


def variables(trainer):
    model = trainer.model
    return [v.numpy() for v in model.variables] + [
        v.numpy() for opt in model.optimizers.values() for v in opt.variables
    ]


def straight_and_stopped(config, tmp_path, stop_at):
    """A run trained straight through, and one stopped by SIGTERM at step `stop_at` and
    reopened (not yet continued), so a test can look at the state it resumes from."""
    silent = lambda _: None  # noqa: E731
    straight = assemble(config, str(tmp_path / "straight"), log=silent)
    straight.fit()
    run_dir = str(tmp_path / "stopped")
    result = assemble(config, run_dir, log=silent).fit(extra_callbacks=[SignalAtStep(stop_at)])
    assert result.interrupted_by == "SIGTERM" and stop_at <= result.step < straight.step
    return straight, assemble(config, run_dir, log=silent)


def assert_same_state(trainer, other):
    """Every model variable and optimizer slot of the two runs is equal within float tolerance."""
    for a, b in zip(variables(trainer), variables(other), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tiny_config, tmp_path):
    # 8 steps an epoch; 3 epochs with the LR decaying in the last, dropout in G, BN in both.
    config = tiny_config("train.n_epochs=2", "train.n_epochs_decay=1")
    silent = lambda _: None  # noqa: E731

    straight = assemble(config, str(tmp_path / "straight"), log=silent)
    straight.fit()

    run_dir = str(tmp_path / "stopped")
    first = assemble(config, run_dir, log=silent)
    result = first.fit(extra_callbacks=[SignalAtStep(11)])
    assert result.interrupted_by == "SIGTERM"
    assert 11 <= result.step < 24
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored

    resumed = assemble(config, run_dir, log=silent)
    assert resumed.step == result.step
    resumed.fit()
    assert resumed.step == straight.step == 24
    assert float(resumed.model.generator_optimizer.learning_rate) == pytest.approx(
        float(straight.model.generator_optimizer.learning_rate))
    assert_same_state(straight, resumed)


def test_unreadable_newest_checkpoint_falls_back_to_an_older_one(tiny_config, tmp_path):
    config = tiny_config("train.n_epochs=2", "train.n_epochs_decay=0")
    run_dir = str(tmp_path / "run")
    silent = lambda _: None  # noqa: E731
    stopped = assemble(config, run_dir, log=silent).fit(extra_callbacks=[SignalAtStep(12)])
    checkpoints = tf.train.get_checkpoint_state(os.path.join(run_dir, "checkpoints")).all_model_checkpoint_paths
    assert [p.rsplit("-", 1)[1] for p in checkpoints] == ["8", str(stopped.step)]
    with open(checkpoints[-1] + ".data-00000-of-00001", "r+b") as f:
        f.truncate(100)  # what a kill in the middle of writing leaves behind
    warnings = []
    trainer = assemble(config, run_dir, log=warnings.append)
    assert trainer.step == 8
    assert any("could not be restored" in w for w in warnings)
    assert trainer.fit().step == 16

    for path in tf.train.get_checkpoint_state(os.path.join(run_dir, "checkpoints")).all_model_checkpoint_paths:
        with open(path + ".data-00000-of-00001", "r+b") as f:
            f.truncate(100)
    with pytest.raises(Tfi2iError, match="no checkpoint in .* could be restored"):
        assemble(config, run_dir, log=lambda _: None)


def test_continuing_with_a_different_model_is_refused(tiny_config, tmp_path):
    run_dir = str(tmp_path / "run")
    assemble(tiny_config("train.n_epochs=1", "train.n_epochs_decay=0"), run_dir, log=lambda _: None).fit()
    with pytest.raises(Tfi2iError, match=r"different config \(model.generator.params.ngf differ\)"):
        assemble(tiny_config("model.generator.params.ngf=16"), run_dir)
    # Extending the schedule (turning on validation, resizing thread pools) is allowed and continues
    # from the last step.
    longer = assemble(tiny_config("train.n_epochs=2", "train.n_epochs_decay=0", "train.val_steps=1",
                                 "train.inter_op_threads=0"), run_dir, log=lambda _: None)
    epoch_logs = []
    logger = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_logs.append(logs))
    assert longer.step == 8 and longer.fit(extra_callbacks=[logger]).step == 16
    assert len(epoch_logs) == 1 and {"val_l1", "val_d_total", "l1"} <= set(epoch_logs[0])


def test_checkpoints_every_n_steps_and_of_kept_epochs_survive_pruning(tiny_config, tmp_path):
    # 8 steps an epoch, 3 epochs: saves at 5, 8, 10, 15, 16, 20, 24; epoch 2's (16) is kept.
    config = tiny_config("train.n_epochs=3", "train.n_epochs_decay=0", "train.save_every_steps=5",
                         "train.keep_checkpoints=2", "train.keep_every_epochs=2")
    run_dir = str(tmp_path / "run")
    assert assemble(config, run_dir, log=lambda _: None).fit().step == 24
    assert sorted(saved_steps(run_dir)) == [16, 20, 24]
    left = sorted(name.split(".")[0] for name in os.listdir(os.path.join(run_dir, "checkpoints")) if "ckpt" in name)
    assert set(left) == {"ckpt-16", "ckpt-20", "ckpt-24"}  # the pruned ones' files are gone
    assert restore_model(run_dir, checkpoint="16")[2] == 16
