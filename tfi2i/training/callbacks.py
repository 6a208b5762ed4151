"""Keras callbacks of the trainer: checkpoints, graceful stop on signals, samples, scalars,
metric passes, the learning-rate plateau."""

import os
import signal

import keras
import tensorflow as tf

from tfi2i.evaluation import scoring as scoring_lib
from tfi2i.nets.any_size import AnySizeTranslator
from tfi2i.training import samples


class Checkpoints(keras.callbacks.Callback):
    """A checkpoint every N epochs, and also every M training steps when `every_steps` is set."""

    def __init__(self, run_checkpoint, every_epochs, every_steps=None):
        super().__init__()
        self.run_checkpoint = run_checkpoint
        self.every_epochs = every_epochs
        self.every_steps = every_steps

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps and self.model.trained_steps % self.every_steps == 0:
            self.run_checkpoint.save()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs == 0:
            self.run_checkpoint.save()


class StartupLog(keras.callbacks.Callback):
    """A `log(line)` that holds its lines until the first training step has ended (or
    `release()`), then passes them and every later line on to `write`. A run that fails
    before its first step has printed none of them."""

    def __init__(self, write):
        super().__init__()
        self.write = write
        self.held = []

    def __call__(self, line):
        if self.held is None:
            self.write(line)
        else:
            self.held.append(line)

    def release(self):
        if self.held is not None:
            held, self.held = self.held, None
            for line in held:
                self.write(line)

    def on_train_batch_end(self, batch, logs=None):
        self.release()


class StopOnSignal(keras.callbacks.Callback):
    """Turns SIGINT / SIGTERM into a stop at the end of the current step.

    Stopping between steps leaves weights and optimizer state consistent, so the trainer
    can save them. A second Ctrl-C interrupts at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        super().__init__()
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name

    def on_train_begin(self, logs=None):
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_batch_end(self, batch, logs=None):
        if self.received is not None:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class SampleGrids(keras.callbacks.Callback):
    """Writes samples/epoch_NNNN.png (and a TensorBoard image) from a fixed batch."""

    def __init__(self, batch, directory, writer, every_epochs=1):
        super().__init__()
        self.batch = batch
        self.directory = directory
        self.writer = writer
        self.every_epochs = every_epochs

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs:
            return
        image = samples.grid(self.model.sample_columns(self.batch))
        os.makedirs(self.directory, exist_ok=True)
        samples.save_png(image, os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png"))
        with self.writer.as_default():
            tf.summary.image("samples", image[None], step=epoch + 1)


class ScalarLogger(keras.callbacks.Callback):
    """TensorBoard scalars against the global step: the losses every N steps, and the LRs."""

    def __init__(self, writer, every_steps):
        super().__init__()
        self.writer = writer
        self.every_steps = every_steps

    def _write(self, logs, prefix=""):
        with self.writer.as_default(step=self.model.trained_steps):
            for name, value in (logs or {}).items():
                tf.summary.scalar(prefix + name, float(value))
            for name, optimizer in self.model.optimizers.items():
                tf.summary.scalar(f"lr/{name}", float(optimizer.learning_rate.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        if self.model.trained_steps % self.every_steps == 0:
            self._write(logs, "step/")

    def on_epoch_end(self, epoch, logs=None):
        self._write(logs, "epoch/")
        self.writer.flush()


class MetricPass(keras.callbacks.Callback):
    """Every N epochs, scores the model on a fixed subset of held-out images and logs the
    results as eval/<metric> TensorBoard scalars against the epoch."""

    def __init__(self, images, scoring, direction, writer, every_epochs, log):
        super().__init__()
        self.images = images
        self.scoring = scoring
        self.direction = direction
        self.writer = writer
        self.every_epochs = every_epochs
        self.log = log
        self._translators = {}

    def _translator(self, direction):
        # Built once: the traced function reads the variables, so it sees every update.
        if direction not in self._translators:
            self._translators[direction] = AnySizeTranslator(self.model.translator(direction), self.model.inference_mode)
        return self._translators[direction]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs:
            return
        back_direction = "b2a" if self.direction == "a2b" else "a2b"
        back = self._translator(back_direction) if "cycle_l1" in self.scoring.metrics else None
        results = scoring_lib.score_translator(self._translator(self.direction), back, self.images, self.scoring)
        with self.writer.as_default(step=epoch + 1):
            for name, value in results.items():
                tf.summary.scalar(f"eval/{name}", value)
        self.writer.flush()
        self.log(f"epoch {epoch + 1} eval: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
        if logs is not None:  # for the callbacks after this one (train.plateau.monitor)
            logs.update({f"eval/{name}": value for name, value in results.items()})


class ReduceOnPlateau(keras.callbacks.Callback):
    """train.lr_policy plateau: shows each epoch's value of `monitor` to the plateau
    (tfi2i.schedules.LearningRatePlateau), which lowers both players' rates when it stalls.
    An epoch that did not log the value (a metric pass every N epochs) is not counted."""

    def __init__(self, plateau, monitor, log):
        super().__init__()
        self.plateau = plateau
        self.monitor = monitor
        self.log = log

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and self.plateau.observe(float(value)):
            epochs = self.plateau.patience + 1
            self.log(f"epoch {epoch + 1}: {self.monitor} has not improved for {epochs} epoch{'s' * (epochs > 1)}; "
                     f"learning rate now {self.plateau.learning_rate:.3g}")
