"""Checkpoints of a run: every model variable (weights, norm statistics, RNG states) and
every optimizer slot, written through tf.train.CheckpointManager.

TensorFlow writes a checkpoint's files first and then replaces the small 'checkpoint'
index file atomically, so a kill mid-write leaves the index on the previous checkpoint.
`restore_latest` also falls back to an older checkpoint if the newest cannot be read.
"""

import os

import tensorflow as tf

from tfi2i.errors import Tfi2iError


def directory(run_dir):
    """Where a run keeps its checkpoints."""
    return os.path.join(run_dir, "checkpoints")


def _layout(model, **optimizers):
    # model.variables lists the Keras SeedGenerator states too (dropout, noise), which
    # tracking the model object alone would miss; keeping them makes resume exact.
    return tf.train.Checkpoint(variables=list(model.variables), **optimizers)


def saved_steps(run_dir):
    """{step: checkpoint path} of every checkpoint a run holds."""
    state = tf.train.get_checkpoint_state(directory(run_dir))
    paths = state.all_model_checkpoint_paths if state else []
    return {int(path.rsplit("-", 1)[1]): path for path in paths}


def restore_weights(model, path):
    """Loads a run checkpoint's model variables into `model`, leaving the optimizer slots out."""
    status = _layout(model).restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise Tfi2iError(f"checkpoint '{path}' does not fit this model: {error}") from None
    status.expect_partial()


class RunCheckpoint:
    """Restores from `directory` and saves there, or into `save_directory` when given: a
    non-chief worker of a multi-worker cluster must take part in every save (the variables
    are read collectively) but writes its copy somewhere nobody reads."""

    def __init__(self, directory, model, max_to_keep=3, save_directory=None):
        self.model = model
        self.checkpoint = _layout(model, **model.optimizers)
        self.restore_manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep)
        self.manager = self.restore_manager
        if save_directory:
            self.manager = tf.train.CheckpointManager(self.checkpoint, save_directory, max_to_keep=1)

    def save(self):
        """Writes a checkpoint numbered by the training step, unless that step is saved already."""
        step = self.model.trained_steps
        if self.manager.latest_checkpoint and self.manager.latest_checkpoint.endswith(f"-{step}"):
            return self.manager.latest_checkpoint
        return self.manager.save(checkpoint_number=step)

    def restore_latest(self, warn=print):
        """Restores the newest readable checkpoint; returns its path, or None for a fresh run."""
        for path in reversed(self.restore_manager.checkpoints):
            try:
                self.checkpoint.restore(path).assert_consumed()
                return path
            except Exception as error:  # A damaged file fails in many ways (OpError, IndexError, ...).
                warn(f"warning: checkpoint '{path}' could not be restored ({type(error).__name__}); trying an older one")
        if self.restore_manager.checkpoints:
            # Starting afresh here would let the manager delete the old checkpoints.
            raise Tfi2iError(
                f"no checkpoint in '{self.restore_manager.directory}' could be restored into this model; "
                f"train in a new --run-dir, or move that folder away to start this run over"
            )
        return None
