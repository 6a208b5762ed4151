"""Feature extractors for the distribution metrics (FID, KID, precision/recall).

An extractor is registered in the entry point group `tfi2i.feature_extractors`; it is built
as `Extractor(weights=PATH_OR_NONE)` (and `resize=MODE` when one is asked for) and called on a
batch of float images [N, H, W, C] in [-1, 1] (any size, 1 or 3 channels), returning features
[N, D]. It may have `protocol`, a dict written beside every score (feature network, its
weights' SHA-256, resize mode), and `logits(features)`, the class logits the Inception Score
reads.

`inception_2015` (inception_2015.py) is the graph published FID, KID and IS numbers are
computed on. `inception_v3` here is Keras' ImageNet InceptionV3: another network, so its
scores cannot be set beside a paper's.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfi2i import pixels, registry
from tfi2i.errors import Tfi2iError
from tfi2i.metrics.clean_resize import clean_resize
from tfi2i.metrics.inception_2015 import file_sha256

GROUP = "tfi2i.feature_extractors"
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_WEIGHTS_FILE


def keras_cache_path(file_name):
    """Where keras.utils.get_file keeps a downloaded model file."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models", file_name)


RESIZES = ("bilinear", "clean")


class InceptionV3Features:
    """2048-d pool features of Keras' InceptionV3 (include_top=False, pooling="avg") on
    images resized to 299x299 (TensorFlow's bilinear resize, or `clean`: clean_resize) and
    scaled as inception_v3.preprocess_input does. Not the network of published FID / KID."""

    size = 299

    def __init__(self, weights=None, resize="bilinear"):
        if resize not in RESIZES:
            raise Tfi2iError(f"resize '{resize}' is not one of {', '.join(RESIZES)} for the inception_v3 features")
        self.resize = resize
        path = weights or keras_cache_path(INCEPTION_WEIGHTS_FILE)
        if not os.path.isfile(path):
            where = f"'{weights}' does not exist" if weights else f"no InceptionV3 weights in the Keras cache ({path})"
            raise Tfi2iError(
                f"{where}; download {INCEPTION_WEIGHTS_URL} to {keras_cache_path(INCEPTION_WEIGHTS_FILE)} "
                f"or pass --inception-weights PATH"
            )
        try:
            self.network = keras.applications.InceptionV3(
                include_top=False, pooling="avg", weights=path, input_shape=(self.size, self.size, 3))
        except (ValueError, OSError) as error:
            raise Tfi2iError(
                f"'{path}' does not hold InceptionV3 (notop) weights ({error}); "
                f"use the file from {INCEPTION_WEIGHTS_URL}"
            ) from None
        self.protocol = {"feature_network": "inception_v3 (Keras; not comparable with published scores)",
                         "weights_sha256": file_sha256(path), "resize": resize}
        self._features = tf.function(self._compute, reduce_retracing=True)

    def _compute(self, levels):
        # preprocess_input expects levels 0-255 and maps them to [-1, 1].
        return self.network(keras.applications.inception_v3.preprocess_input(levels), training=False)

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        if images.shape[-1] == 1:  # grayscale: the same image in three channels
            images = np.repeat(images, 3, axis=-1)
        if self.resize == "clean":
            levels = clean_resize(images, self.size)
        else:
            levels = pixels.to_levels(tf.image.resize(images, [self.size, self.size], method="bilinear"))
        return self._features(levels).numpy()


def build(name="inception_v3", weights=None, resize=None):
    """The extractor `name`, with `weights`, and `resize` when one is asked for (None: its own)."""
    options = {"weights": weights} if resize is None else {"weights": weights, "resize": resize}
    return registry.load(GROUP, name)(**options)
