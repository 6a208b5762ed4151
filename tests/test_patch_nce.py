"""PatchNCE's building blocks against a direct NumPy computation (issue: CUT)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfi2i.losses.patch_nce import ProjectionHead, gather_patches, patch_nce, sample_locations

T = 0.07


def normalized(rng, shape):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def numpy_patch_nce(query, key):
    """Loss [B, P] and its gradient w.r.t. query, written out: logits [q.k_p, q.k_n (n != p),
    -10 for n == p] / T, cross-entropy on logit 0."""
    batch, patches, _ = query.shape
    losses, grads = np.zeros((batch, patches)), np.zeros(query.shape)
    for b in range(batch):
        for p in range(patches):
            keys = np.concatenate([key[b, p][None], key[b]])  # the positive, then every key of image b
            logits = keys @ query[b, p] / T
            logits[1 + p] = -10.0 / T  # the patch with itself
            shifted = np.exp(logits - logits.max())
            probabilities = shifted / shifted.sum()
            losses[b, p] = -np.log(probabilities[0])
            weights = probabilities.copy()
            weights[0] -= 1.0
            weights[1 + p] = 0.0  # a constant: no gradient through it
            grads[b, p] = weights @ keys / T
    return losses, grads


def test_patch_nce_values_and_gradient_equal_the_direct_computation():
    rng = np.random.default_rng(0)
    query, key = normalized(rng, (2, 6, 8)), normalized(rng, (2, 6, 8))
    query_t, key_t = tf.constant(query), tf.constant(key)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([query_t, key_t])
        losses = patch_nce(query_t, key_t, T)
        total = tf.reduce_sum(losses)
    expected_losses, expected_grads = numpy_patch_nce(query, key)
    np.testing.assert_allclose(losses.numpy(), expected_losses, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(total, query_t).numpy(), expected_grads, rtol=1e-4, atol=1e-5)
    assert tape.gradient(total, key_t) is None  # the source's features are a constant


def test_negatives_come_from_the_same_image_only():
    rng = np.random.default_rng(1)
    query, key = normalized(rng, (2, 5, 4)), normalized(rng, (2, 5, 4))
    before = patch_nce(tf.constant(query), tf.constant(key)).numpy()
    key[1] = normalized(rng, (5, 4))  # the other image's keys change...
    after = patch_nce(tf.constant(query), tf.constant(key)).numpy()
    np.testing.assert_array_equal(after[0], before[0])  # ... image 0's losses do not
    assert np.abs(after[1] - before[1]).max() > 1e-3
    # A query equal to its own key, far from the others, costs almost nothing.
    assert patch_nce(tf.constant(key), tf.constant(key)).numpy().mean() < before.mean()


def test_locations_are_distinct_shared_and_all_of_a_small_map():
    features = tf.random.normal([2, 8, 8, 3])
    locations = sample_locations(features, 16, keras.random.SeedGenerator(1))
    assert sorted(set(locations.numpy().tolist())) == sorted(locations.numpy().tolist()) and len(locations) == 16
    patches = gather_patches(features, locations)
    flat = features.numpy().reshape(2, 64, 3)
    np.testing.assert_array_equal(patches.numpy(), flat[:, locations.numpy()])
    np.testing.assert_array_equal(sample_locations(tf.zeros([1, 3, 4, 1]), 256, 0), np.arange(12))


def test_projection_head_is_two_dense_layers_then_the_papers_normalization():
    head = ProjectionHead(16)
    x = np.random.default_rng(0).normal(size=(2, 7, 5)).astype(np.float32)
    out = head(x).numpy()
    assert out.shape == (2, 7, 16) and len(head.trainable_variables) == 4
    hidden = np.maximum(x @ head.hidden.kernel.numpy() + head.hidden.bias.numpy(), 0.0)
    raw = hidden @ head.out.kernel.numpy() + head.out.bias.numpy()
    np.testing.assert_allclose(out, raw / (np.linalg.norm(raw, axis=-1, keepdims=True) + 1e-7), rtol=1e-5, atol=1e-7)
    # The paper code's init (xavier, gain 0.02) leaves |raw| ~ 1e-3, where the 1e-7 shows.
    assert np.all(np.abs(np.linalg.norm(out, axis=-1) - 1.0) < 1e-2)
