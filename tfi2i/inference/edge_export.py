"""`tfi2i export --format onnx|tflite`: one translation direction of a run as one file for
runtimes without TensorFlow, with the SavedModel's metadata beside it (FILE.tfi2i.json).

Both convert the graph of the SavedModel's `translate` signature: the network built of stock
Keras layers whatever kernels trained it, in the run's inference mode, mirror-padded to the
sizes it takes and cropped back.

    onnx    tf2onnx, opset ONNX_OPSET; batch, height and width dynamic (any size, as the
            SavedModel); for ONNX Runtime, OpenCV, TensorRT, browsers
    tflite  TensorFlow's LiteRT converter, for the LiteRT interpreter (`ai-edge-litert`) on
            phones and small boards: one image of a fixed --size HxW, float32, or its weights
            stored as float16 or int8 (dynamic-range quantization)

Each file is written beside and renamed into place, so a failed conversion leaves nothing.
"""

import json
import os
import re
import tempfile

import keras
import tensorflow as tf

from tfi2i.errors import Tfi2iError
from tfi2i.inference.export import default_name, describe
from tfi2i.nets import test_time
from tfi2i.nets.any_size import AnySizeTranslator
from tfi2i.run.restore import restore_model

FORMATS = ("onnx", "tflite")
QUANTIZATIONS = ("float16", "dynamic-int8")
ONNX_OPSET = 17  # ONNX Runtime >= 1.11, OpenCV's DNN module, TensorRT 8.5+ all read it


def metadata_path(path):
    return path + ".tfi2i.json"


def require(module, extra):
    """Imports an optional dependency, or says which extra installs it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise Tfi2iError(f"this needs the '{extra}' extra (no module '{module}'); "
                         f"install it with: pip install 'tfi2i[{extra}]'") from None


def parse_size(size):
    """'HxW' -> (H, W), both at least 1."""
    found = re.fullmatch(r"(\d+)x(\d+)", size or "")
    if not found or min(int(found[1]), int(found[2])) < 1:
        raise Tfi2iError(f"--size '{size}' is not HEIGHTxWIDTH (e.g. 256x256); give the image size the tflite "
                         f"model takes")
    return int(found[1]), int(found[2])


def convert_onnx(any_size, path):
    """Writes `any_size` (an AnySizeTranslator) to `path` as ONNX; returns the metadata it adds."""
    tf2onnx = require("tf2onnx", "onnx")
    spec = [tf.TensorSpec([None, None, None, any_size.input_channels], tf.float32, name="image")]
    model, _ = tf2onnx.convert.from_function(tf.function(any_size.translate), input_signature=spec, opset=ONNX_OPSET)
    # Input "image" -> output "translated" (ONNX names are one namespace), with named dimensions.
    for value in (model.graph.input[0], model.graph.output[0]):
        for dim, name in zip(value.type.tensor_type.shape.dim, ("batch", "height", "width")):
            dim.dim_param = name
    output = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = ["translated" if name == output else name for name in node.output]
    model.graph.output[0].name = "translated"
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return {"onnx_opset": ONNX_OPSET, "tf2onnx_version": tf2onnx.__version__}


def convert_tflite(any_size, path, size, quantize=None):
    """Writes `any_size` for (height, width) `size` images to `path` as a LiteRT flatbuffer,
    its weights `quantize`d when given; returns the metadata it adds."""
    height, width = size
    with tempfile.TemporaryDirectory(prefix="tfi2i-tflite-") as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(any_size.network)
        archive.add_endpoint("translate", lambda image: {"image": any_size.translate(image)}, input_signature=[
            tf.TensorSpec([1, height, width, any_size.input_channels], tf.float32, name="image")])
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["translate"])
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: dynamic-range int8 weights
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        with open(path, "wb") as f:
            f.write(converter.convert())
    return {"size": [height, width], "quantize": quantize or "none"}


def export_file(run_dir, base, fmt, direction="a2b", checkpoint="latest", name=None, mode=None, size=None,
                quantize=None):
    """Writes BASE/<name>.<fmt> and its metadata beside it; returns the file's path."""
    if fmt == "tflite":
        size = parse_size(size) if size else None
        if size is None:
            raise Tfi2iError("--format tflite needs --size HEIGHTxWIDTH: a LiteRT model takes images of one size")
        require("ai_edge_litert", "tflite")
    elif size or quantize:
        raise Tfi2iError("--size and --quantize are for --format tflite; drop them")
    config, model, step = restore_model(run_dir, checkpoint, kernel_mode="keras")
    any_size = AnySizeTranslator(model.translator(direction), mode or config.inference.mode)
    if any_size.mode == "train" and test_time.has_dropout(any_size.network):
        raise Tfi2iError(f"inference mode 'train' draws dropout masks, which {fmt} freezes into constants; "
                         f"export with --mode eval, or use --format savedmodel")
    path = os.path.join(base, f"{name or default_name(run_dir, direction)}.{fmt}")
    if os.path.exists(path):
        raise Tfi2iError(f"'{path}' exists already; remove it or give another --name")
    os.makedirs(base, exist_ok=True)
    partial = os.path.join(base, f".partial-{os.path.basename(path)}")
    try:
        converted = convert_onnx(any_size, partial) if fmt == "onnx" else convert_tflite(any_size, partial, size, quantize)
    except Exception as error:
        if os.path.exists(partial):
            os.remove(partial)
        if isinstance(error, Tfi2iError):
            raise
        # The converters fail in many ways; the first line of what they say names the cause.
        message = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise Tfi2iError(f"the {fmt} converter could not convert '{run_dir}' ({message}); "
                         f"export --format savedmodel instead") from None
    metadata = describe(config, direction, any_size, step, "keras", format=fmt, **converted)
    with open(metadata_path(partial), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
    os.replace(metadata_path(partial), metadata_path(path))
    os.replace(partial, path)
    return path
