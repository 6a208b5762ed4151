"""What an exported model runs around its translator (tfi2i.nets.any_size): encoded images in,
checked and decoded, PNG out. All of it is graph code, traced into the SavedModel's signatures.
"""

import tensorflow as tf

from tfi2i import pixels
from tfi2i.data.images import FORMATS, decode_bytes, header_size

def check_sizes(image_bytes, max_pixels):
    """Asserts that every image is of a known format, within `max_pixels`, and that all share
    one size (a request's images are translated as one batch); returns the sizes [N, 2]."""
    sizes = tf.map_fn(header_size, image_bytes, fn_output_signature=tf.TensorSpec([2], tf.int64))
    checks = [
        tf.debugging.assert_positive(
            tf.size(image_bytes), message="image_bytes: the request holds no image; send at least one"),
        tf.debugging.assert_positive(
            sizes, message=f"image_bytes: an input is not a {FORMATS} image (or its header is damaged)"),
        tf.debugging.assert_less_equal(
            sizes[:, 0] * sizes[:, 1], tf.constant(max_pixels, tf.int64),
            message=f"image_bytes: an input has more pixels than the limit of this export ({max_pixels}); "
                    "downscale it, or export again with a larger --max-pixels"),
        tf.debugging.assert_equal(
            sizes, tf.broadcast_to(sizes[:1], tf.shape(sizes)),
            message="image_bytes: the images of one request must share one size; "
                    "send images of other sizes in separate requests"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(sizes)


def decode_images(image_bytes, channels, max_pixels):
    """[N] encoded images of one size -> float32 [N, H, W, channels] in [-1, 1]."""
    with tf.control_dependencies([check_sizes(image_bytes, max_pixels)]):
        images = tf.map_fn(
            lambda data: decode_bytes(data, channels),
            image_bytes,
            fn_output_signature=tf.TensorSpec([None, None, channels], tf.float32),
        )
    return pixels.to_unit_range(images)


def encode_png(images):
    """float [N, H, W, C] in [-1, 1] -> [N] PNG strings (rounded as the sample grids are)."""
    return tf.map_fn(tf.io.encode_png, pixels.to_uint8(images), fn_output_signature=tf.TensorSpec([], tf.string))
