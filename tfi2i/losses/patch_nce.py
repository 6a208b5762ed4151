"""PatchNCE (Park, Efros, Zhang and Zhu, "Contrastive Learning for Unpaired Image-to-Image
Translation", ECCV 2020, eq. 2-5): a patch of the translation should be most like the patch of
the source at the same place, among the source's other patches.

For one layer of the generator's encoder, with features q of the translation and k of the
source at the same P sampled locations, projected and L2-normalized (`ProjectionHead`):

    loss_p = -log( exp(q_p . k_p / T) / (exp(q_p . k_p / T) + sum_{n != p} exp(q_p . k_n / T)) )

the negatives k_n coming from the same image only, and k a constant (no gradient reaches the
source's features), as the paper's code. The model averages it over the layers.

The building blocks here; the loss entry and the model that taps the generator's layers use them.
"""

import keras
import tensorflow as tf

# The paper's code fills the logits of a patch with itself with -10 (before dividing by T), so
# those pairs count as negatives of no weight.
SELF_LOGIT = -10.0


def sample_locations(features, num_patches, seed):
    """`num_patches` distinct spatial locations (flat indices into H * W) of [B, H, W, C]
    features, one draw for the whole batch as the paper's code; all of them, in order, when
    the map has no more than `num_patches`."""
    locations = tf.shape(features)[1] * tf.shape(features)[2]
    order = tf.argsort(tf.random.stateless_uniform([locations], seed))
    return tf.cond(locations > num_patches, lambda: order[:num_patches], lambda: tf.range(locations))


def gather_patches(features, locations):
    """[B, P, C]: the feature vectors of [B, H, W, C] `features` at flat `locations` [P]."""
    flat = tf.reshape(features, [tf.shape(features)[0], -1, features.shape[-1]])
    return tf.gather(flat, locations, axis=1)


def patch_nce(query, key, temperature=0.07):
    """Per-patch losses [B, P] of query patches [B, P, D] against key patches [B, P, D] (both
    L2-normalized): each query's positive is the key at its own index, its negatives the other
    keys of the same image."""
    key = tf.stop_gradient(key)
    positive = tf.reduce_sum(query * key, axis=-1, keepdims=True)  # [B, P, 1]
    negatives = tf.einsum("bpd,bnd->bpn", query, key)  # [B, P, P]: the same image's keys only
    is_self = tf.eye(tf.shape(query)[1], dtype=tf.bool)[None]
    negatives = tf.where(is_self, tf.cast(SELF_LOGIT, negatives.dtype), negatives)
    logits = tf.concat([positive, negatives], axis=-1) / temperature
    labels = tf.zeros(tf.shape(logits)[:2], tf.int32)  # the positive is logit 0
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


class ProjectionHead(keras.layers.Layer):
    """The paper's per-layer projection: Dense(units), ReLU, Dense(units), then x / (|x| + 1e-7)
    as the paper's code normalizes."""

    def __init__(self, units=256, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu", name="hidden")
        self.out = keras.layers.Dense(units, name="out")

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.out.build((*input_shape[:-1], self.units))

    def call(self, patches):
        projected = self.out(self.hidden(patches))
        return projected / (tf.norm(projected, axis=-1, keepdims=True) + 1e-7)
