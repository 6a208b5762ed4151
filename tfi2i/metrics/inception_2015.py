"""The Inception network that published FID, KID and Inception Score numbers are computed on:
the 2015 ImageNet graph (`classify_image_graph_def.pb` from inception-2015-12-05.tgz) that
TTUR's FID code runs, and that pytorch-fid and clean-fid reproduce.

It is loaded from a local file, natively in TensorFlow (a TF1 GraphDef imported into a TF2
function), and never downloaded. Its input is the `ExpandDims:0` tensor after the graph's JPEG
decoder: [N, H, W, 3] float pixel levels 0-255 of any size. In `legacy_tensorflow` mode the
graph itself resizes them to 299x299 (its own bilinear ResizeBilinear op, as TTUR); in `clean`
mode they arrive already resized (clean_resize) and the graph's resize to the same size leaves
them as they are. Features are the 2048-d `pool_3:0`; the Inception Score's logits are those
features times the weights of `softmax/logits/MatMul`, without the bias, as the original
Inception Score code (Salimans et al., 2016) computes them.
"""

import hashlib
import os

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from tfi2i import pixels
from tfi2i.errors import Tfi2iError
from tfi2i.metrics.clean_resize import clean_resize

GRAPH_FILE = "classify_image_graph_def.pb"
ARCHIVE_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
INPUT = "ExpandDims"
POOL = "pool_3"
LOGITS_MATMUL = "softmax/logits/MatMul"
RESIZES = ("legacy_tensorflow", "clean")
WHERE_TO_GET = (f"extract {GRAPH_FILE} from {ARCHIVE_URL} and pass it with --inception-weights PATH "
                f"(training: train.eval_feature_weights)")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_graph_def(path):
    """The GraphDef in `path`, or a one-line error naming the file and where the right one is."""
    if not path or not os.path.isfile(path):
        where = f"'{path}' does not exist" if path else "the inception_2015 features need the 2015 Inception graph"
        raise Tfi2iError(f"{where}; {WHERE_TO_GET}")
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as f:
            graph_def.ParseFromString(f.read())
    except DecodeError:
        raise Tfi2iError(f"'{path}' is not a TensorFlow GraphDef; {WHERE_TO_GET}") from None
    nodes = {node.name: node for node in graph_def.node}
    for name in (INPUT, POOL, LOGITS_MATMUL):
        if name not in nodes:
            raise Tfi2iError(f"'{path}' has no '{name}' node, so it is not the 2015 Inception graph; {WHERE_TO_GET}")
    return graph_def, tensor_name(nodes[LOGITS_MATMUL].input[1])


def tensor_name(node_input):
    return node_input if ":" in node_input else f"{node_input}:0"


class Inception2015Features:
    """2048-d pool_3 features of the 2015 Inception graph, and the Inception Score's logits."""

    size = 299

    def __init__(self, weights=None, resize="legacy_tensorflow"):
        if resize not in RESIZES:
            raise Tfi2iError(f"resize '{resize}' is not one of {', '.join(RESIZES)} for the inception_2015 features")
        graph_def, weights_tensor = read_graph_def(weights)
        self.resize = resize
        self.protocol = {"feature_network": "inception_2015", "weights_sha256": file_sha256(weights), "resize": resize}

        def imported(images):
            # Mapping the batch onto ExpandDims:0 gives every op after it an unknown batch size
            # (the graph was saved for one decoded JPEG at a time).
            return tf.compat.v1.import_graph_def(
                graph_def, input_map={f"{INPUT}:0": images}, return_elements=[f"{POOL}:0", weights_tensor], name="")

        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        wrapped = tf.compat.v1.wrap_function(imported, [spec])
        pool, logit_weights = wrapped.outputs
        self._pool = wrapped.prune(wrapped.inputs, [pool])
        self.logit_weights = wrapped.prune([], [logit_weights])()[0].numpy().astype(np.float64)

    def levels(self, images):
        """What the graph is fed: pixel levels 0-255, resized first in clean mode."""
        images = np.asarray(images, np.float32)
        if images.shape[-1] == 1:  # grayscale: the same image in three channels
            images = np.repeat(images, 3, axis=-1)
        if self.resize == "clean":
            return clean_resize(images, self.size)
        return np.clip(pixels.to_levels(images), 0.0, 255.0)

    def __call__(self, images):
        """[N, H, W, C] float images in [-1, 1] -> [N, 2048] features."""
        [pool] = self._pool(tf.constant(self.levels(images)))
        return pool.numpy().reshape(len(images), -1)

    def logits(self, features):
        """[N, 1008] class logits of [N, 2048] features (no bias, as the Inception Score's code)."""
        return np.asarray(features, np.float64) @ self.logit_weights
