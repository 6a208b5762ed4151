"""One translation direction, loaded from an export (a SavedModel, an .onnx or a .tflite file)
or from a training run, as a function float32 [N, H, W, C] in [-1, 1] -> float32
[N, H, W, C'] for any H and W (a .tflite file: its one size).

What `tfi2i translate` (and evaluation) run: the same model a server or a device would load,
or the run's checkpoint directly, without exporting first.
"""

import dataclasses
import json
import os
from typing import Callable

import tensorflow as tf

from tfi2i import registry
from tfi2i.errors import Tfi2iError
from tfi2i.inference import edge_runtimes
from tfi2i.inference.export import METADATA_FILE
from tfi2i.nets.any_size import AnySizeTranslator
from tfi2i.run import directory as run_directory
from tfi2i.run.restore import restore_model


@dataclasses.dataclass(frozen=True)
class LoadedTranslator:
    translate: Callable
    direction: str
    input_channels: int
    output_channels: int
    source: str  # what was loaded: the export's version folder, or the run directory
    step: int = None  # the training step of the weights, where known
    config: object = None  # the run's Config; None for an export
    mode: str = "eval"  # the inference mode it runs in (tfi2i.nets.test_time)
    config_sha256: str = None  # an export's record of its run's config hash

    def __call__(self, images):
        return self.translate(tf.convert_to_tensor(images, tf.float32))


def _latest_version(model_dir):
    versions = [int(name) for name in os.listdir(model_dir)
                if name.isdigit() and os.path.isfile(os.path.join(model_dir, name, "saved_model.pb"))]
    return os.path.join(model_dir, str(max(versions))) if versions else None


def _from_export(path, direction, mode):
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:  # a damaged or foreign file fails in many ways (OSError, DecodeError, ...)
        raise Tfi2iError(
            f"'{path}' holds no readable SavedModel ({type(error).__name__}); "
            f"export the run again with tfi2i export, or give a training run directory"
        ) from None
    if "translate" not in loaded.signatures:
        raise Tfi2iError(f"the SavedModel '{path}' has no 'translate' signature; export it with tfi2i export")
    signature = loaded.signatures["translate"]
    metadata_path = os.path.join(path, "assets", METADATA_FILE)
    metadata = {}
    if os.path.isfile(metadata_path):
        with open(metadata_path, encoding="utf-8") as f:
            metadata = json.load(f)
    exported_direction = metadata.get("direction", direction or "a2b")
    if direction and direction != exported_direction:
        raise Tfi2iError(
            f"the export '{path}' translates {exported_direction}, not {direction}; "
            f"drop --direction or export the {direction} direction of the run"
        )
    # Exports from before the mode was recorded ran in eval mode.
    exported_mode = metadata.get("inference_mode", "eval")
    if mode and mode != exported_mode:
        raise Tfi2iError(
            f"the export '{path}' runs in inference mode '{exported_mode}', not '{mode}'; drop --mode or "
            f"export the run again with --mode {mode}"
        )
    input_channels = signature.structured_input_signature[1]["image"].shape[-1]
    output_channels = signature.structured_outputs["image"].shape[-1]

    def translate(images):
        # `loaded` stays referenced here: a signature alone does not keep the variables alive.
        return loaded.signatures["translate"](image=images)["image"]

    return LoadedTranslator(translate, exported_direction, input_channels, output_channels, path, metadata.get("step"),
                            mode=exported_mode, config_sha256=metadata.get("config_sha256"))


def _from_run(run_dir, direction, checkpoint, mode):
    direction = direction or "a2b"
    # The kernels that suit this machine: the checkpoint fits either set.
    config, model, step = restore_model(run_dir, checkpoint, kernel_mode="auto")
    mode = mode or config.inference.mode
    translator = AnySizeTranslator(model.translator(direction), mode)
    return LoadedTranslator(translator, direction, translator.input_channels, translator.output_channels, run_dir,
                            step, config, mode)


def directions(config):
    """The directions a run's model translates."""
    return registry.load("tfi2i.models", config.model.name).directions


def load(path, direction=None, checkpoint="latest", mode=None):
    """The translator at `path`: an export version folder (holding saved_model.pb), an export's
    model folder (its highest version is taken), an exported .onnx or .tflite file, or a
    training run directory; run in inference `mode` (a run's default: its inference.mode; an
    export runs its own)."""
    if edge_runtimes.is_edge_model(path):
        if checkpoint != "latest":
            raise Tfi2iError(f"--checkpoint picks a checkpoint of a run, but '{path}' is an export; drop it")
        translate, metadata = edge_runtimes.load(path, direction, mode)
        return LoadedTranslator(translate, metadata["direction"], metadata["input_channels"],
                                metadata["output_channels"], path, metadata["step"], mode=metadata["inference_mode"],
                                config_sha256=metadata.get("config_sha256"))
    if not os.path.isdir(path):
        raise Tfi2iError(f"model '{path}' does not exist; give an export (folder, .onnx or .tflite file) or a run "
                         f"directory")
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        export_path = path
    else:
        export_path = _latest_version(path)
    if export_path:
        if checkpoint != "latest":
            raise Tfi2iError(f"--checkpoint picks a checkpoint of a run, but '{path}' is an export; drop it")
        return _from_export(export_path, direction, mode)
    if run_directory.is_run(path):
        return _from_run(path, direction, checkpoint, mode)
    raise Tfi2iError(
        f"'{path}' is neither an export (no saved_model.pb, no version folders) nor a run (no "
        f"{run_directory.CONFIG_FILE}); give the folder tfi2i export or tfi2i train wrote"
    )
