"""Learning-rate schedules that change once per epoch, as in the reference implementation.

They read the optimizer's step count, so a restored optimizer resumes the schedule exactly.
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
