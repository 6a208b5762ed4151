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

from tfi2i import __version__, config as config_lib
from tfi2i.data import images
from tfi2i.errors import Tfi2iError
from tfi2i.inference import serving
from tfi2i.nets.any_size import AnySizeTranslator
from tfi2i.run.restore import restore_model

METADATA_FILE = "tfi2i.json"


def next_version(model_dir):
    versions = [int(name) for name in os.listdir(model_dir) if name.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def config_hash(config):
    return hashlib.sha256(config_lib.to_yaml(config).encode("utf-8")).hexdigest()


def default_name(run_dir, direction):
    return f"{os.path.basename(os.path.normpath(run_dir))}_{direction}"


def describe(config, direction, any_size, step, kernels, **extra):
    """The metadata written beside every export (tfi2i.json), with `extra` fields."""
    return {
        "model": config.model.name,
        "direction": direction,
        "input_channels": any_size.input_channels,
        "output_channels": any_size.output_channels,
        "size_multiple": any_size.multiple,
        "smallest_size": any_size.smallest,
        **extra,
        "step": step,
        "kernels": kernels,
        "inference_mode": any_size.mode,
        "config_sha256": config_hash(config),
        "tfi2i_version": __version__,
    }


def build_archive(network, max_pixels, mode="eval"):
    """(the ExportArchive with both signatures around a translator network run in inference
    `mode`, its AnySizeTranslator)."""
    any_size = AnySizeTranslator(network, mode)
    channels = any_size.input_channels
    archive = keras.export.ExportArchive()
    archive.track(any_size.network)

    def translate(image):
        return {"image": any_size.translate(image)}

    def serve_bytes(image_bytes):
        translated = any_size.translate(serving.decode_images(image_bytes, channels, max_pixels))
        return {"image_bytes": serving.encode_png(translated), "image": translated}

    archive.add_endpoint(
        "serving_default", serve_bytes, input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.add_endpoint(
        "translate", translate, input_signature=[tf.TensorSpec([None, None, None, channels], tf.float32, name="image")])
    return archive, any_size


def export(run_dir, base, direction="a2b", version=None, checkpoint="latest", name=None,
           max_pixels=images.DEFAULT_MAX_PIXELS, kernels="keras", mode=None):
    """Writes BASE/<name>/<version>/ and returns that path.

    The networks are built of `kernels`' layers whatever kernels trained the run (the
    checkpoint fits either set, tfi2i.kernels): by default stock Keras, so the SavedModel holds
    standard ops that any TF Serving device runs with its own kernels. They run in inference
    `mode` (default: the run's inference.mode), which the metadata records."""
    config, model, step = restore_model(run_dir, checkpoint, kernel_mode=kernels)
    mode = mode or config.inference.mode
    network = model.translator(direction)
    model_dir = os.path.join(base, name or default_name(run_dir, direction))
    version = version or next_version(model_dir)
    path = os.path.join(model_dir, str(version))
    if os.path.exists(path):
        raise Tfi2iError(f"'{path}' exists already; leave out --version to take the next free one")

    archive, any_size = build_archive(network, max_pixels, mode)
    # Written beside and renamed into place, so TF Serving, which watches the folder, never
    # loads a half-written version.
    partial = os.path.join(model_dir, f".partial-{version}")
    shutil.rmtree(partial, ignore_errors=True)
    archive.write_out(partial, verbose=False)
    metadata = describe(config, direction, any_size, step, kernels, max_pixels=max_pixels)
    os.makedirs(os.path.join(partial, "assets"), exist_ok=True)
    with open(os.path.join(partial, "assets", METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
    os.replace(partial, path)
    return path
