"""An `.onnx` file through ONNX Runtime, or a `.tflite` file through the LiteRT interpreter, as
a translator like the SavedModel's (float32 [N, H, W, C] in [-1, 1] -> [N, H, W, C']), so
`tfi2i translate` and `tfi2i evaluate` check an edge model on a user's own images."""

import json
import os

import numpy as np

from tfi2i.errors import Tfi2iError
from tfi2i.inference.edge_export import metadata_path, require

SUFFIXES = (".onnx", ".tflite")


def is_edge_model(path):
    return os.path.isfile(path) and path.endswith(SUFFIXES)


def _metadata(path):
    if not os.path.isfile(metadata_path(path)):
        raise Tfi2iError(f"'{metadata_path(path)}' is missing; tfi2i export writes it beside '{path}'")
    with open(metadata_path(path), encoding="utf-8") as f:
        return json.load(f)


def onnx_runtime_translate(path):
    """The translate function of an .onnx file on ONNX Runtime's CPU provider."""
    onnxruntime = require("onnxruntime", "onnx")
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: session.run(None, {name: images})[0]


def litert_translate(path, size):
    """The translate function of a .tflite file for (height, width) `size` images, one by one
    through the LiteRT interpreter."""
    interpreter = require("ai_edge_litert.interpreter", "tflite").Interpreter(model_path=path)
    runner = interpreter.get_signature_runner("translate")
    height, width = size

    def translate(images):
        if images.shape[1:3] != (height, width):
            raise Tfi2iError(f"'{path}' takes {width}x{height} images, not {images.shape[2]}x{images.shape[1]}; "
                             f"export it again with --size {images.shape[1]}x{images.shape[2]}")
        return np.concatenate([runner(image=image[None])["image"] for image in images])

    return translate


def load(path, direction=None, mode=None):
    """(translate function, metadata) of an exported .onnx or .tflite file."""
    metadata = _metadata(path)
    for flag, asked, exported in (("--direction", direction, metadata["direction"]),
                                  ("--mode", mode, metadata["inference_mode"])):
        if asked and asked != exported:
            raise Tfi2iError(f"'{path}' was exported for {flag} {exported}, not {asked}; drop {flag} or export "
                             f"the run again with {flag} {asked}")
    run = onnx_runtime_translate(path) if path.endswith(".onnx") else litert_translate(path, metadata["size"])
    return (lambda images: run(np.asarray(images, np.float32))), metadata
