"""The trainer: config in, trained run directory out.

    data files -> tf.data stream -> model (in the strategy's scope) -> fit with callbacks
    -> checkpoints, samples, TensorBoard logs in the run directory.
"""

import dataclasses
import os
import shutil
import sys
import tempfile
from typing import Optional

import keras
import tensorflow as tf

from tfi2i import distribution, evaluation, factory, precision, thread_pools
from tfi2i.data import folders, pipeline, synthetic
from tfi2i.errors import Tfi2iError
from tfi2i.metrics import features
from tfi2i.training import callbacks, checkpoints, custom_loop, report, run_dir as run_dir_lib


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    step: int
    epoch: int
    interrupted_by: Optional[str] = None  # the signal's name when one stopped training


def _dataset_root(config, run_dir):
    data = config.data
    root = data.root or os.path.join(run_dir, "data")
    if data.synthetic.enabled and not os.path.isdir(root):
        kind = "unpaired" if data.layout == "unaligned" else "paired"
        synthetic.write(kind, root, count=data.synthetic.count, size=data.synthetic.size, seed=data.synthetic.seed)
    return root


def _find_files(data, root, split):
    if data.layout == "unaligned":
        return folders.find_unpaired(root, split, data.max_dataset_size)
    return folders.find_paired(root, data.layout, split, data.max_dataset_size)


class Trainer:
    """Builds everything a run needs from its config; `fit()` trains until done or stopped."""

    def __init__(self, config, run_dir, log=print):
        self.config = config
        self.run_dir = run_dir
        self.log = log
        run_dir_lib.check_continuable(run_dir, config)
        # First: thread pools and a multi-worker strategy must be set before TensorFlow runs anything.
        thread_pools.configure(config.train.intra_op_threads, config.train.inter_op_threads, log)
        self.strategy = distribution.build_strategy(config.distribute, config.train.devices)
        self.is_chief = distribution.is_chief(self.strategy)
        keras.utils.set_random_seed(config.train.seed)

        data, train = config.data, config.train
        root = _dataset_root(config, run_dir)
        self.files = _find_files(data, root, data.train_split)
        folders.verify_images(self.files.all_paths)
        folders.check_batchable(self.files.all_paths, data.preprocess, train.batch_size)
        has_val = folders.has_split(root, data.layout, data.val_split)
        self.val_files = _find_files(data, root, data.val_split) if has_val else None
        self.steps_per_epoch = pipeline.steps_per_epoch(self.files, train.batch_size, train.steps_per_epoch)
        self.total_epochs = train.n_epochs + train.n_epochs_decay

        self.dtype_policy = precision.policy_name(train.mixed_precision)
        if train.mixed_precision:
            log(f"mixed precision: {self.dtype_policy}")
        if train.jit_compile and not tf.config.list_logical_devices("GPU"):
            # XLA's CPU convolutions lack oneDNN's kernels (tools/bench.py: CycleGAN-128 16 s a
            # step against 1.35 s without it).
            log("note: train.jit_compile on a CPU runs these networks several times slower; set it false")
        with self.strategy.scope():
            with precision.dtype_policy(self.dtype_policy):
                self.model = factory.build_model(config)
            if self.model.needs_pairs and data.layout == "unaligned":
                raise Tfi2iError(
                    f"model '{config.model.name}' learns from paired examples, but data.layout is 'unaligned'; "
                    f"use an aligned or paired_folders dataset, or an unpaired model such as cyclegan"
                )
            self.model.compile(
                precision.wrap_optimizer(factory.build_optimizer(config, self.steps_per_epoch), self.dtype_policy),
                precision.wrap_optimizer(factory.build_optimizer(config, self.steps_per_epoch), self.dtype_policy),
                jit_compile=train.jit_compile,
            )
            self.model.build_optimizers()
        # A non-chief worker restores the run's checkpoints but saves its copies aside.
        self.aside = None if self.is_chief else tempfile.mkdtemp(prefix="tfi2i-worker-checkpoints-")
        self.checkpoint = checkpoints.RunCheckpoint(
            checkpoints.directory(run_dir), self.model, train.keep_checkpoints, save_directory=self.aside)
        self.metric_pass = self._metric_pass_inputs(root) if train.eval_every_epochs else None
        restored = self.checkpoint.restore_latest(warn=log)
        if restored:
            log(f"resuming from {restored} (step {self.step}, epoch {self.step // self.steps_per_epoch + 1})")
        if self.is_chief:
            run_dir_lib.write_config(run_dir, config)

    def _metric_pass_inputs(self, root):
        """(images, scoring) of the in-training metric pass, checked before anything is trained:
        the first train.eval_images of the val split, else the test split."""
        data, train = self.config.data, self.config.train
        split = next((s for s in (data.val_split, "test") if folders.has_split(root, data.layout, s)), None)
        if split is None:
            raise Tfi2iError(
                f"train.eval_every_epochs needs held-out images, but '{root}' has no '{data.val_split}' or 'test' "
                "split; add one or set train.eval_every_epochs=0"
            )
        images = evaluation.evaluation_set(root, split, reverse=data.direction == "b2a")
        count = train.eval_images
        images = evaluation.EvaluationSet(
            images.sources[:count], images.targets[:count] if images.targets else None, images.reals[:count])
        two_way = "b2a" in self.model.directions
        metrics = evaluation.check_metrics(train.eval_metrics) if train.eval_metrics is not None else None
        scoring = evaluation.Scoring(metrics, kid_subset_size=count, kid_subsets=10, batch_size=train.batch_size)
        scoring = evaluation.applicable_scoring(
            scoring, images, two_way, split, with_features=bool(train.eval_feature_weights))
        if evaluation.needs_features(scoring.metrics):  # built last: the cheap checks come first
            scoring = dataclasses.replace(scoring, extractor=features.build(weights=train.eval_feature_weights))
        return images, scoring

    @property
    def step(self):
        return self.checkpoint.step

    @property
    def total_steps(self):
        return self.total_epochs * self.steps_per_epoch

    def _callbacks(self, stop):
        train = self.config.train
        if not self.is_chief:  # it saves with the chief (collectively), and writes nothing else
            return [stop, callbacks.CheckpointEveryEpochs(self.checkpoint, train.save_every_epochs)]
        writer = tf.summary.create_file_writer(os.path.join(self.run_dir, "logs"))
        sample_files = self.val_files or self.files
        sample_batch = next(iter(pipeline.evaluation_set(sample_files, self.config.data, train.num_samples, train.num_samples)))
        return [
            stop,
            callbacks.ScalarLogger(writer, train.log_every_steps),
            callbacks.SampleGrids(sample_batch, os.path.join(self.run_dir, "samples"), writer, train.sample_every_epochs),
            callbacks.CheckpointEveryEpochs(self.checkpoint, train.save_every_epochs),
            *([callbacks.MetricPass(*self.metric_pass, "a2b", writer, train.eval_every_epochs, self.log)]
              if self.metric_pass else []),
        ]

    def fit(self, extra_callbacks=()):
        """Trains to the end of the schedule or until a signal; extra Keras callbacks run too."""
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


def train(config, run_dir, log=print):
    return Trainer(config, run_dir, log).fit()
