"""Learning-rate schedules that change once per epoch, as in the reference implementation.

EpochSchedule reads the optimizer's step count and the plateau's state is checkpointed, so a
restored optimizer resumes its schedule exactly.
"""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfi2i")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = initial_lr * factor(epoch), epoch = step // steps_per_epoch (0-based).

    linear:   1 for n_epochs, then down linearly over n_epochs_decay (reference 'linear').
    step:     x0.1 every decay_epochs.
    cosine:   half a cosine from 1 to 0 over n_epochs.
    constant: 1.
    """

    def __init__(self, initial_lr, steps_per_epoch, policy="linear", n_epochs=100, n_epochs_decay=100,
                 decay_epochs=50):
        self.initial_lr = float(initial_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.policy = policy
        self.n_epochs = int(n_epochs)
        self.n_epochs_decay = int(n_epochs_decay)
        self.decay_epochs = int(decay_epochs)

    def factor(self, epoch):
        epoch = tf.cast(epoch, tf.float32)
        if self.policy == "linear":
            return 1.0 - tf.maximum(0.0, epoch + 1.0 - self.n_epochs) / float(self.n_epochs_decay + 1)
        if self.policy == "step":
            return tf.pow(0.1, tf.floor(epoch / self.decay_epochs))
        if self.policy == "cosine":
            return 0.5 * (1.0 + tf.cos(math.pi * tf.minimum(epoch, self.n_epochs) / max(self.n_epochs, 1)))
        return tf.ones_like(epoch)

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        return self.initial_lr * self.factor(epoch)

    def get_config(self):
        return {
            "initial_lr": self.initial_lr,
            "steps_per_epoch": self.steps_per_epoch,
            "policy": self.policy,
            "n_epochs": self.n_epochs,
            "n_epochs_decay": self.n_epochs_decay,
            "decay_epochs": self.decay_epochs,
        }


class LearningRatePlateau(tf.Module):
    """The state of the reference's `--lr_policy plateau` (torch's ReduceLROnPlateau with
    threshold_mode 'rel'): after more than `patience` epochs in which the monitored value
    did not improve on the best by `threshold` (relative), the learning rates are multiplied by
    `factor`, down to `min_lr`. Its variables live in the run's checkpoints (through each
    optimizer's PlateauSchedule), so a resumed run goes on counting where it stopped.

    Keras' ReduceLROnPlateau callback sets one optimizer's rate, with an absolute min_delta, and
    starts counting again on resume; tfi2i has two optimizers and resumes exactly.
    """

    def __init__(self, initial_lr, factor=0.2, patience=5, threshold=0.01, mode="min", min_lr=0.0):
        super().__init__(name="lr_plateau")
        self.initial_lr = float(initial_lr)
        self.factor, self.patience, self.threshold = float(factor), int(patience), float(threshold)
        self.mode, self.min_lr = mode, float(min_lr)
        self.scale = tf.Variable(1.0, trainable=False, name="scale")
        self.best = tf.Variable(math.inf if mode == "min" else -math.inf, trainable=False, name="best")
        self.bad_epochs = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_epochs")

    @property
    def learning_rate(self):
        return self.initial_lr * float(self.scale.numpy())

    def _improves(self, value):
        best = float(self.best.numpy())
        if self.mode == "min":
            return value < best * (1.0 - self.threshold)
        return value > best * (1.0 + self.threshold)

    def observe(self, value):
        """Counts one epoch's monitored value; returns whether the learning rate was lowered."""
        if self._improves(value):
            self.best.assign(value)
            self.bad_epochs.assign(0)
            return False
        self.bad_epochs.assign_add(1)
        if int(self.bad_epochs.numpy()) <= self.patience:
            return False
        self.bad_epochs.assign(0)
        lowered = max(self.learning_rate * self.factor, self.min_lr)
        if self.learning_rate - lowered <= 1e-8 * self.initial_lr:
            return False
        self.scale.assign(lowered / self.initial_lr)
        return True


class PlateauSchedule(tf.Module, keras.optimizers.schedules.LearningRateSchedule):
    """The plateau's current learning rate, whatever the step."""

    def __init__(self, plateau):
        super().__init__(name="plateau_schedule")
        self.plateau = plateau

    def __call__(self, step):
        return self.plateau.initial_lr * self.plateau.scale

    def get_config(self):
        return {"initial_lr": self.plateau.initial_lr, "factor": self.plateau.factor,
                "patience": self.plateau.patience, "threshold": self.plateau.threshold,
                "mode": self.plateau.mode, "min_lr": self.plateau.min_lr}
