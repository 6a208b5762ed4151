"""The trainer: trains a run's model on its data stream until the schedule ends or a signal
stops it, with the callbacks that write the run directory.

    data stream -> model.fit (or the custom loop under multi_worker) with callbacks
    -> checkpoints, samples, TensorBoard logs, the report

It only trains: training.assembly builds the pieces it is given from the config.
"""

import dataclasses
import os
import shutil
import sys
from typing import Optional

import tensorflow as tf

from tfi2i.data import folders, pipeline
from tfi2i.errors import Tfi2iError
from tfi2i.run import lock as run_lock
from tfi2i.training import callbacks, custom_loop, report


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    step: int
    epoch: int
    interrupted_by: Optional[str] = None  # the signal's name when one stopped training


class Trainer:
    """`fit()` trains until done or stopped; made by `training.assembly.assemble`."""

    def __init__(self, config, run_dir, strategy, data, model, checkpoint, metric_pass=None, dtype_policy="float32",
                 aside=None, log=print, plateau=None):
        self.config = config
        self.run_dir = run_dir
        self.strategy = strategy
        # Only the chief writes the run; another worker of a cluster saves its copies `aside`.
        self.is_chief = aside is None
        self.files, self.val_files = data.files, data.val_files
        self.steps_per_epoch = data.steps_per_epoch
        self.total_epochs = config.train.n_epochs + config.train.n_epochs_decay
        self.model = model
        self.checkpoint = checkpoint
        self.metric_pass = metric_pass  # (images, scoring) or None
        self.dtype_policy = dtype_policy
        self.aside = aside
        self.log = log
        self.plateau = plateau  # a LearningRatePlateau under train.lr_policy: plateau

    @property
    def step(self):
        return self.model.trained_steps

    @property
    def total_steps(self):
        return self.total_epochs * self.steps_per_epoch

    def _callbacks(self, stop):
        train = self.config.train
        # At an epoch's end the plateau reads the metric pass's results, and the checkpoint
        # saves the plateau's state: in this order.
        plateau = [callbacks.ReduceOnPlateau(self.plateau, train.plateau.monitor, self.log)] if self.plateau else []
        checkpoints = callbacks.Checkpoints(self.checkpoint, train.save_every_epochs, train.save_every_steps)
        if not self.is_chief:  # it saves with the chief (collectively), and writes nothing else
            return [stop, *plateau, checkpoints]
        writer = tf.summary.create_file_writer(os.path.join(self.run_dir, "logs"))
        sample_files = self.val_files or self.files
        sample_batch = next(iter(pipeline.evaluation_set(sample_files, self.config.data, train.num_samples, train.num_samples)))
        return [
            stop,
            callbacks.ScalarLogger(writer, train.log_every_steps),
            callbacks.SampleGrids(sample_batch, os.path.join(self.run_dir, "samples"), writer, train.sample_every_epochs),
            *([callbacks.MetricPass(*self.metric_pass, "a2b", writer, train.eval_every_epochs, self.log)]
              if self.metric_pass else []),
            *plateau,
            checkpoints,
        ]

    def fit(self, extra_callbacks=()):
        """Trains to the end of the schedule or until a signal; extra Keras callbacks run too."""
        if not self.is_chief:
            return self._fit(extra_callbacks)
        run_lock.acquire(self.run_dir)  # held since assemble(); taken again by a second fit()
        try:
            return self._fit(extra_callbacks)
        finally:
            run_lock.release(self.run_dir)

    def _fit(self, extra_callbacks):
        train = self.config.train
        if self.step >= self.total_steps:
            self.log(f"run '{self.run_dir}' is complete ({self.total_epochs} epochs); raise train.n_epochs to continue")
            return self._result()
        stop = callbacks.StopOnSignal()
        cbs = self._callbacks(stop) + list(extra_callbacks)
        validation = None
        if train.val_steps and self.val_files:
            validation = pipeline.evaluation_set(self.val_files, self.config.data, train.batch_size).take(train.val_steps)
        try:
            if self.config.distribute == "multi_worker":
                if validation is not None:
                    self.log("note: train.val_steps is not run under distribute: multi_worker")
                stream = pipeline.training_stream(self.files, self.config.data, train.seed, train.batch_size,
                                                  train.steps_per_epoch, start_step=self.step)
                custom_loop.CustomLoop(self.model, self.strategy, self.log).run(
                    stream, cbs, self.total_steps, self.steps_per_epoch)
            else:
                self._keras_fit(cbs, stop, validation)
        except tf.errors.InvalidArgumentError:
            bad = folders.find_unreadable(self.files.all_paths)
            if bad:
                raise Tfi2iError(f"'{bad}' could not be decoded as an image; replace or remove it") from None
            raise
        finally:
            stop.on_train_end()  # Keras skips it when a step raises; the signal handlers go back anyway
        self.checkpoint.save()
        if self.aside:
            shutil.rmtree(self.aside, ignore_errors=True)
        if train.report and self.is_chief:
            self.log(f"report: {report.write(self.run_dir)}")
        return self._result(stop.received)

    def _keras_fit(self, cbs, stop, validation):
        train = self.config.train
        verbose = 1 if sys.stdout.isatty() else 2
        while self.step < self.total_steps and stop.received is None:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            # A run resumed mid-epoch first finishes that epoch, so epochs keep their boundaries.
            self.model.fit(
                pipeline.training_stream(self.files, self.config.data, train.seed, train.batch_size,
                                         train.steps_per_epoch, start_step=self.step),
                initial_epoch=epoch,
                epochs=epoch + 1 if offset else self.total_epochs,
                steps_per_epoch=self.steps_per_epoch - offset,
                validation_data=validation,
                callbacks=cbs,
                shuffle=False,  # the stream is already shuffled, reproducibly
                verbose=verbose,
            )

    def _result(self, interrupted_by=None):
        return TrainResult(self.run_dir, self.step, self.step // self.steps_per_epoch, interrupted_by)

