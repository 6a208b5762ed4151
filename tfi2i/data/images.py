"""The one image reader: every image tfi2i reads (training, translate, evaluate, an export's
serving signature) has its header checked (a format TensorFlow decodes, a size, a pixel limit)
before any memory is spent on its pixels, and is decoded the same way.

`header_size` and `decode_bytes` are graph code, traced into the input pipeline and into
exports; `read` and `header_problem` are the eager front for files, whose failures name the file.
"""

import numpy as np
import tensorflow as tf

from tfi2i.errors import Tfi2iError

FORMATS = "PNG, JPEG, BMP or GIF"
DEFAULT_MAX_PIXELS = 4096 * 4096  # larger inputs are refused before decoding
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEADER_BYTES = 26  # enough for the PNG, GIF and BMP size fields


class UnreadableImage(Tfi2iError):
    """An image file that cannot be read; the message names it and says why."""


def _unsigned(data, offset, length, little_endian):
    """The unsigned integer stored in `length` bytes of `data` at `offset`."""
    digits = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, length), tf.uint8), tf.int64)
    weights = tf.constant([256**i for i in range(length)], tf.int64)
    return tf.reduce_sum(digits * (weights if little_endian else weights[::-1]))


def header_size(data):
    """(height, width) from an encoded image's header, int64; (-1, -1) for an unknown format.

    Read before decoding, so an image too large to decode is refused before any memory is
    spent on its pixels.
    """

    # The fixed fields, zero-padded: read outside the branches, they must exist in short data too.
    head = tf.strings.substr(data, 0, _HEADER_BYTES) + tf.constant(b"\x00" * _HEADER_BYTES)

    def starts_with(magic, at=0):
        long_enough = tf.strings.length(data) >= _HEADER_BYTES
        return tf.logical_and(long_enough, tf.equal(tf.strings.substr(data, at, len(magic)), magic))

    # Past the signature, the next fixed field too: garbage after a valid signature is no
    # image, where its "size" fields would read as any number.
    is_png = tf.logical_and(starts_with(_PNG_MAGIC), starts_with(b"IHDR", at=12))
    is_gif = tf.logical_or(starts_with(b"GIF87a"), starts_with(b"GIF89a"))
    bmp_header = _unsigned(head, 14, 4, True)  # the DIB header's length: one of the known versions
    is_bmp = tf.logical_and(starts_with(b"BM"), tf.reduce_any(tf.equal(bmp_header, [12, 40, 52, 56, 108, 124])))

    def png():
        return tf.stack([_unsigned(head, 20, 4, False), _unsigned(head, 16, 4, False)])

    def gif():
        return tf.stack([_unsigned(head, 8, 2, True), _unsigned(head, 6, 2, True)])

    def bmp():
        height = _unsigned(head, 22, 4, True)  # int32; negative for top-down bitmaps
        height = tf.where(height >= 2**31, 2**32 - height, height)
        return tf.stack([height, _unsigned(head, 18, 4, True)])

    def jpeg():
        # A JPEG whose frame header cannot be found has no size either.
        return tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)

    return tf.case(
        [
            (is_png, png),
            (is_gif, gif),
            (is_bmp, bmp),
            (tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8"), jpeg),
        ],
        default=lambda: tf.constant([-1, -1], tf.int64),
    )


_eager_header_size = tf.function(header_size, input_signature=[tf.TensorSpec([], tf.string)])


def decode_bytes(data, channels):
    """An encoded PNG/JPEG/BMP/GIF (first frame) -> float32 [H, W, channels] in [0, 255].

    JPEGs are decoded with the accurate integer DCT, which gives PIL's pixels (the reference's
    decoder) bit for bit; TensorFlow's default, the fast DCT, differs from them by 1.3 levels on
    average (up to 23) and is 0.6 levels darker, measured over 20 CMP facades images."""
    is_jpeg = tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8")
    image = tf.cond(
        is_jpeg,
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )
    image = tf.cast(image, tf.float32)
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    image.set_shape([None, None, channels])
    return image


def decode(path, channels):
    """decode_bytes() of a file, in graph code (the input pipeline)."""
    return decode_bytes(tf.io.read_file(path), channels)


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as error:
        return None, error.strerror or str(error)


def _size_problem(data, max_pixels, min_width=1, limit_name="the pixel limit"):
    """((height, width), None) or (None, why the header is refused)."""
    try:
        height, width = (int(n) for n in _eager_header_size(tf.constant(data)).numpy())
    except tf.errors.OpError:  # a JPEG marker without a frame header
        height = width = -1
    if height <= 0 or width <= 0:
        return None, f"not a {FORMATS} image, or its header is damaged"
    if height * width > max_pixels:
        return None, f"{width}x{height} is more than {limit_name} {max_pixels}"
    if width < min_width:
        return None, f"{width} pixel{'s' if width > 1 else ''} wide, too narrow to hold A|B side by side"
    return (height, width), None


def header_problem(path, max_pixels=DEFAULT_MAX_PIXELS, min_width=1):
    """Why the file at `path` cannot be read (from its header), or None."""
    data, problem = _read_bytes(path)
    return problem or _size_problem(data, max_pixels, min_width)[1]


def try_read(path, channels, max_pixels=DEFAULT_MAX_PIXELS, limit_name="the pixel limit"):
    """(float32 [H, W, channels] in [0, 255], None) or (None, why not); `limit_name` is how
    the reason calls `max_pixels` (the option that sets it)."""
    data, problem = _read_bytes(path)
    if problem:
        return None, problem
    _, problem = _size_problem(data, max_pixels, limit_name=limit_name)
    if problem:
        return None, problem
    try:
        return decode_bytes(data, channels).numpy(), None
    except tf.errors.OpError:
        return None, "its image data is damaged"


def read(path, channels, max_pixels=DEFAULT_MAX_PIXELS, limit_name="the pixel limit"):
    """try_read() that raises an UnreadableImage naming the file."""
    image, problem = try_read(path, channels, max_pixels, limit_name)
    if problem:
        raise UnreadableImage(f"'{path}' cannot be read ({problem}); replace or remove it")
    return np.asarray(image)
