"""Random draws the same per example however a batch is split over tf.distribute replicas."""

import keras
import tensorflow as tf


def replica_share(per_replica_shape, draw):
    """This replica's rows of one random draw for the whole global batch.

    `draw(shape)` returns random values of `shape`; it is called with the per-replica shape
    grown to the global batch, and every replica makes the same call (their seed states are
    copies), so example i gets the same value however the batch is split over replicas.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    if replicas == 1:
        return draw(per_replica_shape)
    batch = per_replica_shape[0]
    values = draw(tf.concat([[batch * replicas], per_replica_shape[1:]], axis=0))
    start = batch * tf.cast(context.replica_id_in_sync_group, tf.int32)
    return values[start : start + batch]


def normal(shape, dtype, seed):
    """keras.random.normal, the same per example however the batch is split (replica_share)."""
    return replica_share(shape, lambda s: keras.random.normal(s, dtype=dtype, seed=seed))


def uniform(shape, dtype, seed):
    """keras.random.uniform, the same per example however the batch is split (replica_share)."""
    return replica_share(shape, lambda s: keras.random.uniform(s, dtype=dtype, seed=seed))
