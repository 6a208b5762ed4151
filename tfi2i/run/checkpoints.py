"""Checkpoints of a run: every model variable (weights, norm statistics, RNG states) and
every optimizer slot, written through tf.train.CheckpointManager.

TensorFlow writes a checkpoint's files first and then replaces the small 'checkpoint'
index file atomically, so a kill mid-write leaves the index on the previous checkpoint.
`restore_latest` also falls back to an older checkpoint if the newest cannot be read.
"""

import glob
import os

import tensorflow as tf

from tfi2i.errors import Tfi2iError

DAMAGED_DIR = "damaged"


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


class UnreadableCheckpoint(Tfi2iError):
    """A checkpoint whose files are damaged or missing."""


def restore_weights(model, path):
    """Loads a run checkpoint's model variables into `model`, leaving the optimizer slots out."""
    try:
        status = _layout(model).restore(path)
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise Tfi2iError(f"checkpoint '{path}' does not fit this model: {error}") from None
    except Exception as error:  # A damaged file fails in many ways (OpError, IndexError, ...).
        raise UnreadableCheckpoint(f"checkpoint '{path}' could not be read ({type(error).__name__})") from None
    status.expect_partial()


class RunCheckpoint:
    """Restores from `directory` and saves there, or into `save_directory` when given: a
    non-chief worker of a multi-worker cluster must take part in every save (the variables
    are read collectively) but writes its copy somewhere nobody reads."""

    def __init__(self, directory, model, max_to_keep=3, save_directory=None, keep_every_steps=None):
        self.model = model
        self.directory = directory
        self.max_to_keep = max_to_keep
        self.keep_every_steps = keep_every_steps  # checkpoints at multiples of it are never deleted
        self.checkpoint = _layout(model, **model.optimizers)
        self.restore_manager = self._manager()
        self.manager = self.restore_manager
        if save_directory:
            self.manager = tf.train.CheckpointManager(self.checkpoint, save_directory, max_to_keep=1)

    def _manager(self):
        # With kept checkpoints the manager deletes none, and `_prune` deletes the others.
        keep = None if self.keep_every_steps else self.max_to_keep
        return tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=keep)

    def save(self):
        """Writes a checkpoint numbered by the training step, unless that step is saved already."""
        step = self.model.trained_steps
        if self.manager.latest_checkpoint and self.manager.latest_checkpoint.endswith(f"-{step}"):
            return self.manager.latest_checkpoint
        path = self.manager.save(checkpoint_number=step)
        if self.keep_every_steps and self.manager is self.restore_manager:
            self._prune()
        return path

    def _prune(self):
        """Deletes all but the newest max_to_keep checkpoints and the kept ones."""
        paths = list(self.restore_manager.checkpoints)
        kept = {p for p in paths if int(p.rsplit("-", 1)[1]) % self.keep_every_steps == 0}
        recent = [p for p in paths if p not in kept][-self.max_to_keep:]
        doomed = [p for p in paths if p not in kept and p not in recent]
        if doomed:
            _rewrite_index(self.directory, doomed)
            for prefix in doomed:
                for file in glob.glob(glob.escape(prefix) + ".*"):
                    os.remove(file)
            self.restore_manager = self.manager = self._manager()

    def restore_latest(self, warn=print):
        """Restores the newest readable checkpoint; returns its path, or None for a fresh run.
        Newer ones that failed to restore are set aside (`set_aside`), so training saves
        those steps again."""
        damaged = []
        for path in reversed(self.restore_manager.checkpoints):
            try:
                self.checkpoint.restore(path).assert_consumed()
            except Exception as error:  # A damaged file fails in many ways (OpError, IndexError, ...).
                warn(f"warning: checkpoint '{path}' could not be restored ({type(error).__name__}); trying an older one")
                damaged.append(path)
                continue
            if damaged and self.manager is self.restore_manager:  # only the run's writer moves its files
                moved_to = set_aside(self.directory, damaged)
                warn(f"warning: moved {len(damaged)} damaged checkpoint(s) to '{moved_to}'")
                self.restore_manager = self.manager = self._manager()
            return path
        if self.restore_manager.checkpoints:
            # Starting afresh here would let the manager delete the old checkpoints.
            raise Tfi2iError(
                f"no checkpoint in '{self.restore_manager.directory}' could be restored into this model; "
                f"train in a new --run-dir, or move that folder away to start this run over"
            )
        return None


def set_aside(checkpoint_dir, damaged):
    """Moves the files of the `damaged` checkpoints into checkpoint_dir/damaged/ (a name taken
    there gets a numbered suffix) and rewrites the index to list the others; returns the
    folder."""
    aside = os.path.join(checkpoint_dir, DAMAGED_DIR)
    os.makedirs(aside, exist_ok=True)
    for prefix in damaged:
        for file in glob.glob(glob.escape(prefix) + ".*"):
            target = os.path.join(aside, os.path.basename(file))
            n = 1
            while os.path.exists(target):
                target = os.path.join(aside, f"{os.path.basename(file)}.{n}")
                n += 1
            os.replace(file, target)
    _rewrite_index(checkpoint_dir, damaged)
    return aside


def _rewrite_index(checkpoint_dir, dropped):
    """Rewrites the checkpoint index without the `dropped` checkpoints (atomically, as
    TensorFlow's own saves do)."""
    state = tf.train.get_checkpoint_state(checkpoint_dir)
    kept = [(p, t) for p, t in zip(state.all_model_checkpoint_paths, _timestamps(state)) if p not in dropped]
    tf.compat.v1.train.update_checkpoint_state(  # the index writer TensorFlow 2 keeps under compat
        checkpoint_dir,
        model_checkpoint_path=kept[-1][0] if kept else "",
        all_model_checkpoint_paths=[p for p, _ in kept],
        all_model_checkpoint_timestamps=[t for _, t in kept] if state.all_model_checkpoint_timestamps else None,
        last_preserved_timestamp=state.last_preserved_timestamp,
    )


def _timestamps(state):
    return list(state.all_model_checkpoint_timestamps) or [None] * len(state.all_model_checkpoint_paths)
