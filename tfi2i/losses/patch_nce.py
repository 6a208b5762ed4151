"""PatchNCE (Park, Efros, Zhang and Zhu, "Contrastive Learning for Unpaired Image-to-Image
Translation", ECCV 2020, eq. 2-5): a patch of the translation should be most like the patch of
the source at the same place, among the source's other patches.

For one layer of the generator's encoder, with features q of the translation and k of the
source at the same P sampled locations, projected and L2-normalized (`ProjectionHead`):

    loss_p = -log( exp(q_p . k_p / T) / (exp(q_p . k_p / T) + sum_{n != p} exp(q_p . k_n / T)) )

the negatives k_n coming from the same image only, and k a constant (no gradient reaches the
source's features), as the paper's code. The model averages it over the layers.

`PatchNCELoss` is the `patch_nce` entry of tfi2i.losses: it taps the generator's layers through
`Translation.features` and trains its projection heads (its `network`) with the generator.
"""

import keras
import tensorflow as tf

from tfi2i.errors import Tfi2iError

# The paper's nce_layers 0, 4, 8, 12, 16 of its ResNet generator: the (padded) input, the two
# downsampling convolutions and the outputs of the 1st and 5th residual blocks.
RESNET_LAYERS = ("stem_pad", "down1_conv", "down2_conv", "res1_add", "res5_add")

# The paper's code fills the logits of a patch with itself with -10 (before dividing by T), so
# those pairs count as negatives of no weight.
SELF_LOGIT = -10.0


def sample_locations(features, num_patches, seed):
    """`num_patches` distinct spatial locations (flat indices into H * W) of [B, H, W, C]
    features, one draw for the whole batch as the paper's code; all of them, in order, when
    the map has no more than `num_patches`."""
    locations = tf.shape(features)[1] * tf.shape(features)[2]
    order = tf.argsort(keras.random.uniform([locations], seed=seed))
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


def head_init():
    """The paper code's init of the heads (xavier_normal, gain 0.02; zero biases). A new one per
    layer: an unseeded Keras initializer repeats its draws, giving a weight of one shape the
    values of another, and a smaller weight the first values of a larger one. (model.init's
    'xavier' is the same draw; losses sit on the floor of tfi2i.nets, so they cannot import it.)"""
    return keras.initializers.VarianceScaling(0.02**2, "fan_avg", "untruncated_normal")


class ProjectionHead(keras.layers.Layer):
    """The paper's per-layer projection: Dense(units), ReLU, Dense(units), then x / (|x| + 1e-7)
    as the paper's code normalizes."""

    def __init__(self, units=256, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        # Sublayers take the global dtype policy unless told: these compute as the head does.
        self.hidden = keras.layers.Dense(units, activation="relu", kernel_initializer=head_init(),
                                         dtype=self.dtype_policy, name="hidden")
        self.out = keras.layers.Dense(units, kernel_initializer=head_init(), dtype=self.dtype_policy, name="out")

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.out.build((*input_shape[:-1], self.units))

    def call(self, patches):
        projected = self.out(self.hidden(patches))
        return projected / (tf.norm(projected, axis=-1, keepdims=True) + 1e-7)


class ProjectionHeads(keras.layers.Layer):
    """One `ProjectionHead` per tapped layer, and the seed state of the patch draws: the
    trainable part of PatchNCE. Built with the tapped layers' shapes, so its variables exist
    (and are checkpointed) before the first step. float32 whatever the mixed-precision policy:
    the similarities / 0.07 are too coarse in bfloat16."""

    def __init__(self, count, units, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.heads = [ProjectionHead(units, dtype="float32", name=f"head{i}") for i in range(count)]
        # Seeded, like the heads' weights, from Keras' global seed (training sets it from train.seed).
        self.seed_generator = keras.random.SeedGenerator()

    def build(self, feature_shapes):
        for head, shape in zip(self.heads, feature_shapes):
            head.build((None, None, shape[-1]))

    def call(self, patches):
        return [head(p) for head, p in zip(self.heads, patches)]


class PatchNCELoss:
    """The paper's PatchNCE loss between G's source x and its translation G(x), averaged over
    `layers` of G (the tapped layers' names; default: the paper's for tfi2i's ResNet
    generator). `identity` adds the paper's nce_idt term, PatchNCE between an output-domain
    image y and G(y), and returns the mean of the two (CUT: identity on, weight 1; FastCUT:
    off, weight 10). At each layer `num_patches` locations are drawn, the same for the source's
    features (the keys, no gradient) and the translation's (the queries); each location's
    negatives are the other locations of the same image.
    """

    def __init__(self, layers=RESNET_LAYERS, num_patches=256, temperature=0.07, units=256, identity=True):
        if not layers:
            raise Tfi2iError("patch_nce param layers is empty; list the generator layers to tap")
        if num_patches < 2 or temperature <= 0:
            raise Tfi2iError(
                f"patch_nce needs num_patches >= 2 and temperature > 0, got {num_patches} and {temperature}")
        self.feature_layers = tuple(layers)
        self.num_patches = int(num_patches)
        self.temperature = float(temperature)
        self.identity = bool(identity)
        self.network = ProjectionHeads(len(self.feature_layers), int(units), name="patch_nce_heads")

    @property
    def requires(self):
        fields = ("source", "translated", "features")
        return fields + ("output_real", "identity") if self.identity else fields

    def __call__(self, t):
        name = type(self).__name__
        features = t.require("features", name)
        loss = self.between(t.require("source", name), t.require("translated", name), features)
        if self.identity:
            loss = 0.5 * (loss + self.between(t.require("output_real", name), t.require("identity", name), features))
        return loss

    def between(self, source, translated, features):
        """[batch]: PatchNCE of `translated` against `source`, the mean over the tapped layers."""
        keys = features(source, self.feature_layers)
        queries = features(translated, self.feature_layers, generated=True)
        key_patches, query_patches = [], []
        for key, query in zip(keys, queries):
            locations = sample_locations(key, self.num_patches, self.network.seed_generator)
            key_patches.append(gather_patches(tf.cast(key, tf.float32), locations))
            query_patches.append(gather_patches(tf.cast(query, tf.float32), locations))
        per_layer = [
            tf.reduce_mean(patch_nce(q, k, self.temperature), axis=1)
            for q, k in zip(self.network(query_patches), self.network(key_patches))
        ]
        return tf.add_n(per_layer) / len(per_layer)
