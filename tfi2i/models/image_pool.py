"""A history of generated images for the discriminator (Shrivastava et al., 2017)."""

import keras
import tensorflow as tf


class ImagePool(keras.layers.Layer):
    """Shows the discriminator a mix of current and earlier translations.

    Images are taken one at a time, as in the reference implementation: while the pool
    holds fewer than `pool_size` images, each is stored and returned as it is. Once full,
    each is, with probability 1/2, stored in place of a random earlier image, which is
    returned instead; otherwise it is returned as it is. `pool_size` 0 returns every
    image as it is.

    The images, their count and the RNG state are layer variables, so a checkpoint of the
    model holds them and a resumed run continues the same history.

    Under a tf.distribute strategy each replica keeps a pool of its own translations
    (on-read variables): no images cross devices. A checkpoint holds the first replica's
    pool, and every replica resumes from it.
    """

    def __init__(self, pool_size, image_shape, seed=None, **kwargs):
        # float32 under mixed precision too: the images stay as the generators' float32 heads
        # made them (a layer of the global policy would round them to bfloat16 on the way in).
        super().__init__(**{"dtype": "float32", **kwargs})
        self.pool_size = int(pool_size)
        if self.pool_size < 0:
            raise ValueError(f"pool_size must be 0 or more, got {pool_size}")
        if self.pool_size:
            per_replica = dict(trainable=False, synchronization="on_read", aggregation="only_first_replica")
            with keras.name_scope(self.name):  # as add_weight names them: <pool>/images
                self.images = keras.Variable(
                    keras.initializers.Zeros(), shape=(self.pool_size, *image_shape), name="images", **per_replica)
                self.count = keras.Variable(0, dtype="int32", name="count", **per_replica)
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # every variable exists already; nothing depends on the first input

    def call(self, images):
        if not self.pool_size:
            return images
        batch = tf.shape(images)[0]
        # Drawn for every image, used or not, so the stream of random numbers is fixed.
        swap = keras.random.uniform([batch], seed=self.seed_generator) > 0.5
        random_slot = keras.random.randint([batch], 0, self.pool_size, seed=self.seed_generator)

        def query_one(i, pool, count, returned):
            image = tf.cast(images[i], pool.dtype)
            storing = count < self.pool_size
            swapping = tf.logical_and(tf.logical_not(storing), swap[i])
            slot = tf.where(storing, count, random_slot[i])
            returned = returned.write(i, tf.where(swapping, pool[slot], image))
            pool = tf.cond(
                tf.logical_or(storing, swapping),
                lambda: tf.tensor_scatter_nd_update(pool, [[slot]], image[None]),
                lambda: pool,
            )
            return i + 1, pool, tf.minimum(count + 1, self.pool_size), returned

        # A graph loop rather than Python control flow: it traces the same with or without autograph.
        _, pool, count, returned = tf.while_loop(
            lambda i, *_: i < batch,
            query_one,
            (tf.constant(0), tf.convert_to_tensor(self.images), tf.convert_to_tensor(self.count),
             tf.TensorArray(self.images.dtype, size=batch)),
        )
        self.images.assign(pool)
        self.count.assign(count)
        return tf.ensure_shape(tf.cast(returned.stack(), images.dtype), images.shape)

    def compute_output_shape(self, input_shape):
        return input_shape
