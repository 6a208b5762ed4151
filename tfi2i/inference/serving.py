"""What an exported model runs around its translator (tfi2i.nets.any_size): encoded images in,
checked and decoded, PNG out. All of it is graph code, traced into the SavedModel's signatures.
"""

import tensorflow as tf

from tfi2i import pixels
from tfi2i.data.augment import decode_bytes

FORMATS = "PNG, JPEG, BMP or GIF"
DEFAULT_MAX_PIXELS = 4096 * 4096  # larger inputs are refused before decoding
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEADER_BYTES = 26  # enough for the PNG, GIF and BMP size fields


def _unsigned(data, offset, length, little_endian):
    """The unsigned integer stored in `length` bytes of `data` at `offset`."""
    digits = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, length), tf.uint8), tf.int64)
    weights = tf.constant([256**i for i in range(length)], tf.int64)
    return tf.reduce_sum(digits * (weights if little_endian else weights[::-1]))


def image_size(data):
    """(height, width) from an encoded image's header, int64; (-1, -1) for an unknown format.

    Read before decoding, so an image too large to decode is refused before any memory is
    spent on its pixels.
    """

    def starts_with(magic):
        long_enough = tf.strings.length(data) >= _HEADER_BYTES
        return tf.logical_and(long_enough, tf.equal(tf.strings.substr(data, 0, len(magic)), magic))

    def png():
        return tf.stack([_unsigned(data, 20, 4, False), _unsigned(data, 16, 4, False)])

    def gif():
        return tf.stack([_unsigned(data, 8, 2, True), _unsigned(data, 6, 2, True)])

    def bmp():
        height = _unsigned(data, 22, 4, True)  # int32; negative for top-down bitmaps
        height = tf.where(height >= 2**31, 2**32 - height, height)
        return tf.stack([height, _unsigned(data, 18, 4, True)])

    def jpeg():
        return tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)

    return tf.case(
        [
            (starts_with(_PNG_MAGIC), png),
            (starts_with(b"GIF8"), gif),
            (starts_with(b"BM"), bmp),
            (tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8"), jpeg),
        ],
        default=lambda: tf.constant([-1, -1], tf.int64),
    )


def check_sizes(image_bytes, max_pixels):
    """Asserts that every image is of a known format, within `max_pixels`, and that all share
    one size (a request's images are translated as one batch); returns the sizes [N, 2]."""
    sizes = tf.map_fn(image_size, image_bytes, fn_output_signature=tf.TensorSpec([2], tf.int64))
    checks = [
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
