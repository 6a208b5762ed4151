"""tf.data pipelines: an endless, resumable training stream and finite evaluation sets.

Epoch e visits the examples in a permutation seeded by (seed, e), and example number g of
the stream gets augmentation seed (seed, g). The stream starting at any step is therefore
exactly the tail of the stream from step 0, which is what makes resume exact.
"""

import tensorflow as tf

from tfi2i.data import augment, images
from tfi2i.data.folders import PairedFiles

AUTOTUNE = tf.data.AUTOTUNE


def _epoch_order(n_items, length, seed, epoch, stream):
    """`length` item indices for one epoch: a seeded permutation of the items, and a fresh one
    for each further pass when length > n_items (as the reference reshuffles every pass)."""
    stream_seed = tf.cast(seed, tf.int64) * 2 + stream
    first = tf.random.experimental.stateless_shuffle(
        tf.range(n_items, dtype=tf.int64), seed=tf.stack([stream_seed, epoch])
    )
    passes = -(-length // n_items)
    if passes == 1:
        return first[:length]
    # The further passes: each row of random keys, sorted, is a permutation.
    keys = tf.random.stateless_uniform([passes - 1, n_items], seed=tf.stack([stream_seed, -1 - epoch]))
    rest = tf.reshape(tf.argsort(keys, axis=1, stable=True), [-1])
    return tf.concat([first, tf.cast(rest, tf.int64)], axis=0)[:length]


def _file_channels(data):
    """Channels of the A and B files: input_nc is the model's input, which b2a reads from B."""
    return (data.output_nc, data.input_nc) if data.direction == "b2a" else (data.input_nc, data.output_nc)


def _paired_loader(files, data):
    a_paths = tf.constant(files.a_paths)
    b_paths = tf.constant(files.b_paths)
    a_nc, b_nc = _file_channels(data)

    def load(item, seed, training):
        if files.aligned:
            # Read the file once as RGB, split it, then give each half its channel count.
            image = images.decode(a_paths[item], 3)
            a, b = augment.split_aligned(image)
            a, b = _to_channels(a, a_nc), _to_channels(b, b_nc)
        else:
            a = images.decode(a_paths[item], a_nc)
            b = images.decode(b_paths[item], b_nc)
        a, b = augment.preprocess([a, b], data, seed, training)
        return (b, a) if data.direction == "b2a" else (a, b)

    return load


def _to_channels(image, channels):
    return tf.image.rgb_to_grayscale(image) if channels == 1 else image


def _unpaired_loader(files, data):
    a_paths = tf.constant(files.a_paths)
    b_paths = tf.constant(files.b_paths)
    a_nc, b_nc = _file_channels(data)

    def load(a_item, b_item, seed, training):
        a_seed, b_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        (a,) = augment.preprocess([images.decode(a_paths[a_item], a_nc)], data, a_seed, training)
        (b,) = augment.preprocess([images.decode(b_paths[b_item], b_nc)], data, b_seed, training)
        return (b, a) if data.direction == "b2a" else (a, b)

    return load


def steps_per_epoch(files, batch_size, override=None):
    """Batches in one epoch: every example once in whole batches, unless overridden."""
    return override or max(1, len(files) // batch_size)


def training_stream(files, data, seed, batch_size, epoch_steps=None, start_step=0):
    """Endless batches of augmented (A, B) examples, starting at `start_step`."""
    length = steps_per_epoch(files, batch_size, epoch_steps) * batch_size
    start_epoch, offset = divmod(start_step * batch_size, length)
    paired = isinstance(files, PairedFiles)

    def epoch(e):
        first = e * length
        positions = first + tf.range(length, dtype=tf.int64)
        seeds = tf.stack([tf.fill([length], tf.cast(seed, tf.int64)), positions], 1)
        sizes = (len(files),) if paired else (len(files.a_paths), len(files.b_paths))
        if data.serial_batches:  # the reference's --serial_batches: files in order, B by index too
            items = tuple(positions % n for n in sizes)
        else:
            items = tuple(_epoch_order(n, length, seed, e, stream) for stream, n in enumerate(sizes))
        return tf.data.Dataset.from_tensor_slices((*items, seeds))

    load = _paired_loader(files, data) if paired else _unpaired_loader(files, data)
    stream = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch).skip(offset)
    stream = stream.map(lambda *args: load(*args, training=True), num_parallel_calls=AUTOTUNE, deterministic=True)
    return stream.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def evaluation_set(files, data, batch_size, limit=None):
    """The first `limit` examples in file order, without random augmentation."""
    count = min(len(files), limit) if limit else len(files)
    index = tf.range(count, dtype=tf.int64)
    seeds = tf.zeros([count, 2], tf.int64)  # unused: no random ops when not training
    if isinstance(files, PairedFiles):
        load, columns = _paired_loader(files, data), (index,)
    else:
        load = _unpaired_loader(files, data)
        columns = (index % len(files.a_paths), index % len(files.b_paths))
    dataset = tf.data.Dataset.from_tensor_slices((*columns, seeds))
    dataset = dataset.map(lambda *args: load(*args, training=False), num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)
