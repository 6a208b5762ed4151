"""`tfi2i export`: one translation direction of a trained run as a SavedModel in TF Serving's
layout, BASE/<name>/<version>/{saved_model.pb, variables/, assets/tfi2i.json}.

Signatures:
  serving_default  image_bytes: string [N] (PNG/JPEG/BMP/GIF of one size) ->
                   image_bytes: string [N] (PNG, same size), image: float32 [N, H, W, C] in [-1, 1]
  translate        image: float32 [N, H, W, C] in [-1, 1] -> image: float32, same shape
Any height and width: images are reflect-padded to the generator's multiple and cropped back.
"""

import hashlib
import json
import os
import shutil

import keras
import tensorflow as tf

from tfi2i import __version__, config as config_lib, factory, serving
from tfi2i.errors import Tfi2iError
from tfi2i.nets.layers import every_layer
from tfi2i.training import checkpoints, run_dir as run_dir_lib

METADATA_FILE = "tfi2i.json"


def restore_model(run_dir, checkpoint="latest"):
    """(config, model with the checkpoint's weights, step) of a training run."""
    config = run_dir_lib.saved_config(run_dir)
    steps = checkpoints.saved_steps(run_dir)
    if not steps:
        raise Tfi2iError(f"run '{run_dir}' has no checkpoint yet; train it first (tfi2i train --resume {run_dir})")
    step = max(steps) if checkpoint == "latest" else int(checkpoint)
    if step not in steps:
        raise Tfi2iError(
            f"run '{run_dir}' has no checkpoint of step {checkpoint}; "
            f"use --checkpoint latest or one of {', '.join(map(str, sorted(steps)))}"
        )
    model = factory.build_model(config)
    checkpoints.restore_weights(model, steps[step])
    return config, model, step


def _downsampling_convolutions(network):
    # Nested models too, e.g. UNIT's encoder inside its translator.
    for layer in every_layer(network):
        layer = getattr(layer, "layer", layer)  # look through SpectralNormalization
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
            yield layer


def required_multiple(network):
    """The factor a network downsamples by: the product of its convolutions' strides."""
    multiple = 1
    for layer in _downsampling_convolutions(network):
        multiple *= layer.strides[0]
    return multiple


def smallest_input(translator, multiple, channels):
    """The smallest multiple of `multiple` the translator accepts: reflection padding inside
    a ResNet block, say, needs feature maps of at least 2x2 after downsampling."""
    for size in (multiple * k for k in (1, 2, 4)):
        try:
            translator(tf.zeros([1, size, size, channels]), training=False)
            return size
        except tf.errors.InvalidArgumentError:
            continue
    raise Tfi2iError(f"the generator accepts no input of size {multiple} to {4 * multiple}; it cannot be exported")


def next_version(model_dir):
    versions = [int(name) for name in os.listdir(model_dir) if name.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def config_hash(config):
    return hashlib.sha256(config_lib.to_yaml(config).encode("utf-8")).hexdigest()


def build_archive(translator, channels, max_pixels):
    """The ExportArchive with both signatures around `translator`."""
    multiple = required_multiple(translator)
    smallest = smallest_input(translator, multiple, channels[0])
    archive = keras.export.ExportArchive()
    archive.track(translator)

    def translate(image):
        return {"image": serving.translate_any_size(translator, image, multiple, smallest)}

    def serve_bytes(image_bytes):
        translated = serving.translate_any_size(
            translator, serving.decode_images(image_bytes, channels[0], max_pixels), multiple, smallest)
        return {"image_bytes": serving.encode_png(translated), "image": translated}

    archive.add_endpoint(
        "serving_default", serve_bytes, input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.add_endpoint(
        "translate", translate, input_signature=[tf.TensorSpec([None, None, None, channels[0]], tf.float32,
                                                               name="image")])
    return archive, multiple, smallest


def export(run_dir, base, direction="a2b", version=None, checkpoint="latest", name=None,
           max_pixels=serving.DEFAULT_MAX_PIXELS):
    """Writes BASE/<name>/<version>/ and returns that path."""
    config, model, step = restore_model(run_dir, checkpoint)
    translator = model.translator(direction)
    channels = (translator.input_shape[-1], translator.output_shape[-1])
    name = name or f"{os.path.basename(os.path.normpath(run_dir))}_{direction}"
    model_dir = os.path.join(base, name)
    version = version or next_version(model_dir)
    path = os.path.join(model_dir, str(version))
    if os.path.exists(path):
        raise Tfi2iError(f"'{path}' exists already; leave out --version to take the next free one")

    archive, multiple, smallest = build_archive(translator, channels, max_pixels)
    # Written beside and renamed into place, so TF Serving, which watches the folder, never
    # loads a half-written version.
    partial = os.path.join(model_dir, f".partial-{version}")
    shutil.rmtree(partial, ignore_errors=True)
    archive.write_out(partial, verbose=False)
    metadata = {
        "model": config.model.name,
        "direction": direction,
        "input_channels": channels[0],
        "output_channels": channels[1],
        "size_multiple": multiple,
        "smallest_size": smallest,
        "max_pixels": max_pixels,
        "step": step,
        "config_sha256": config_hash(config),
        "tfi2i_version": __version__,
    }
    os.makedirs(os.path.join(partial, "assets"), exist_ok=True)
    with open(os.path.join(partial, "assets", METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
    os.replace(partial, path)
    return path
