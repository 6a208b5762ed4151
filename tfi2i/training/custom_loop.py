"""A training loop of tfi2i's own: the model's `train_step` through `strategy.run` inside a
`tf.function`, driving the same Keras callbacks `fit` would.

Used for MultiWorkerMirroredStrategy, under which Keras 3's `fit` is broken
(keras-team/keras#20585). Workers stop together: each step all-reduces every worker's
stop request, so a signal that reaches one worker stops all of them after the same step.
"""

import keras
import tensorflow as tf


class CustomLoop:
    def __init__(self, model, strategy, log=print):
        self.model = model
        self.strategy = strategy
        self.log = log
        # train.jit_compile: the step on a batch compiled by XLA, as Keras' fit compiles it;
        # reading the next batch stays outside.
        self._step_on_batch = tf.function(self._distributed_step, jit_compile=bool(model.jit_compile))
        self._step = tf.function(lambda iterator, stop: self._step_on_batch(next(iterator), stop))

    def _distributed_step(self, batch, stop_requested):
        def replica_step(batch, stop):
            logs = self.model.train_step(batch)
            # Each replica's trackers hold its own examples' means: average them over replicas.
            context = tf.distribute.get_replica_context()
            logs = context.all_reduce(tf.distribute.ReduceOp.MEAN, logs)
            return logs, context.all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(stop))

        logs, stops = self.strategy.run(replica_step, args=(batch, stop_requested))
        first = lambda value: self.strategy.experimental_local_results(value)[0]  # noqa: E731
        return tf.nest.map_structure(first, logs), first(stops)

    def run(self, dataset, callbacks, total_steps, steps_per_epoch):
        """Trains from the current step to `total_steps` (or a stop), calling the callbacks'
        train, epoch and batch hooks as `fit` does."""
        options = tf.data.Options()
        # Each worker takes its share of every global batch, whatever the files are.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset.with_options(options)))
        callbacks = keras.callbacks.CallbackList(callbacks, model=self.model)
        callbacks.on_train_begin()
        epoch, logs, stopping = None, {}, False
        while True:
            step = self.model.trained_steps
            if epoch is not None and (stopping or step >= total_steps or step // steps_per_epoch != epoch):
                callbacks.on_epoch_end(epoch, logs)
                self.log(f"epoch {epoch + 1}: " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                epoch = None
            if stopping or step >= total_steps:
                break
            if epoch is None:
                epoch = step // steps_per_epoch
                self.model.reset_metrics()
                callbacks.on_epoch_begin(epoch)
            batch = step % steps_per_epoch
            callbacks.on_train_batch_begin(batch)
            logs, stops = self._step(iterator, tf.constant(float(bool(self.model.stop_training))))
            logs = {name: float(value) for name, value in logs.items()}
            callbacks.on_train_batch_end(batch, logs)
            stopping = int(stops) > 0
        callbacks.on_train_end(logs)
