"""Translation latency of one generator in three runtimes, side by side in one run: the
SavedModel (TensorFlow, as `tfi2i export` writes it), ONNX Runtime (`--format onnx`) and the
LiteRT interpreter (`--format tflite`, float32 and its float16 / dynamic-int8 variants).

For ResNet-9 (ngf 64, CycleGAN's) and U-Net-256 (ngf 64, pix2pix's) at 256x256, batch 1, each
runtime translates the same image; the rounds alternate between the runtimes, so a slow spell
of a shared machine hits all of them. Prints per runtime: the file's size, the median and best
milliseconds per image, the ratio to the SavedModel, and the largest difference from the
SavedModel's output. The weights are the networks' initial draw: latency does not depend on
their values.

    .venv/bin/python tools/edge_bench.py [--models resnet_9blocks unet_256] [--size 256] [--rounds 5] [--reps 3]

Needs the onnx and tflite extras: pip install -e ".[onnx,tflite]".
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfi2i import kernels  # noqa: E402
from tfi2i.inference import edge_export, edge_runtimes, export  # noqa: E402
from tfi2i.nets import generators  # noqa: E402
from tfi2i.nets.any_size import AnySizeTranslator  # noqa: E402

MODELS = {"resnet_9blocks": generators.resnet_9blocks, "unet_256": generators.unet_256}


def runtimes(name, size, workdir):
    """{runtime: (translate function, file size in bytes)} of one generator."""
    with kernels.building_with("keras"):  # what export converts: stock Keras layers
        network = MODELS[name](3, 3, ngf=64)
    any_size = AnySizeTranslator(network)
    found = {}
    archive, _ = export.build_archive(network, size * size)
    saved_model = os.path.join(workdir, name)
    archive.write_out(saved_model, verbose=False)
    loaded = tf.saved_model.load(saved_model)
    found["savedmodel"] = (lambda images: loaded.signatures["translate"](image=tf.constant(images))["image"].numpy(),
                           _folder_bytes(saved_model))
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    edge_export.convert_onnx(any_size, onnx_path)
    found["onnxruntime"] = (edge_runtimes.onnx_runtime_translate(onnx_path), os.path.getsize(onnx_path))
    for quantize in (None, "float16", "dynamic-int8"):
        path = os.path.join(workdir, f"{name}-{quantize or 'float32'}.tflite")
        edge_export.convert_tflite(any_size, path, (size, size), quantize)
        found[f"litert {quantize or 'float32'}"] = (edge_runtimes.litert_translate(path, (size, size)),
                                                    os.path.getsize(path))
    return found


def _folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(parent, n)) for parent, _, names in os.walk(folder) for n in names)


def bench(name, size, rounds, reps, workdir):
    found = runtimes(name, size, workdir)
    image = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    reference = found["savedmodel"][0](image)
    outputs = {runtime: translate(image) for runtime, (translate, _) in found.items()}  # and the warm-up
    times = {runtime: [] for runtime in found}
    for _ in range(rounds):
        for runtime, (translate, _) in found.items():
            for _ in range(reps):
                started = time.perf_counter()
                translate(image)
                times[runtime].append(time.perf_counter() - started)
    base = statistics.median(times["savedmodel"])
    print(f"\n{name} at {size}x{size}, batch 1 ({rounds} rounds x {reps} images per runtime)")
    print(f"{'runtime':<22}{'file MB':>9}{'median ms':>11}{'best ms':>9}{'x SavedModel':>14}{'max |diff|':>12}")
    for runtime, (_, size_bytes) in found.items():
        median = statistics.median(times[runtime])
        print(f"{runtime:<22}{size_bytes / 1e6:>9.1f}{median * 1e3:>11.1f}{min(times[runtime]) * 1e3:>9.1f}"
              f"{base / median:>14.2f}{np.abs(outputs[runtime] - reference).max():>12.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3, help="images per runtime in each round")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; x SavedModel: its median time over the runtime's "
          f"(above 1 is faster)")
    with tempfile.TemporaryDirectory(prefix="tfi2i-edge-bench-") as workdir:
        for name in args.models:
            bench(name, args.size, args.rounds, args.reps, workdir)


if __name__ == "__main__":
    main()
