"""Is an exported SavedModel as fast as the Keras generator it was exported from?

Builds a config's model (weights as initialised: speed does not depend on training) of stock
Keras layers, as `tfi2i export` does (or, --kernels tuned, of the CPU-tuned ones), exports one
direction with the same code as `tfi2i export`, loads it with tf.saved_model.load and times,
at batch 1 and 8 on HxW images:

  keras eager     translator(x, training=False), op by op
  keras compiled  translator.predict_on_batch(x), Keras' own traced predict function
  saved translate the export's `translate` signature (float in, float out)
  saved bytes     the export's `serving_default` (PNG bytes in, PNG bytes + float out),
                  what TF Serving runs; includes decoding and encoding

and prints images/s (median of --repeats rounds, each timing every path once, after --warmup
calls) and the ratio of
`saved translate` to the faster Keras path (goal >= 0.95).

    .venv/bin/python tools/serving_bench.py [--config configs/pix2pix_facades.yaml] [--size 256]
        [--direction a2b] [--batches 1 8] [--repeats 10] [--kernels keras|tuned]
"""

import argparse
import io
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from tfi2i import config as config_lib, pixels  # noqa: E402
from tfi2i.data.images import DEFAULT_MAX_PIXELS  # noqa: E402
from tfi2i.inference import export  # noqa: E402
from tfi2i.models import factory  # noqa: E402

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "pix2pix_facades.yaml")


def images_per_second(calls, batch, warmup, repeats):
    """{name: images/s} of each call, median over `repeats` rounds. Each round times every
    call once, so a slow spell of the machine hits all of them alike."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: batch / statistics.median(seconds) for name, seconds in times.items()}


def png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--direction", default="a2b", choices=["a2b", "b2a"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--kernels", default="keras", choices=["keras", "tuned"],
                        help="the layers the generator is built of [default: stock Keras, as tfi2i export builds it]")
    args = parser.parse_args()

    # No data is read: the root only has to be set for the config to validate.
    config = config_lib.load(args.config, ["data.root=unused", *args.overrides])
    translator = factory.build_model(config, kernel_mode=args.kernels).translator(args.direction)
    channels = translator.input_shape[-1]
    print(f"{config.model.name} {args.direction}: generator {config.model.generator.name} "
          f"{config.model.generator.params}, {args.kernels} kernels, {args.size}x{args.size}, {channels} channels in; "
          f"TensorFlow {tf.__version__}, devices {[d.device_type for d in tf.config.list_logical_devices()]}")

    with tempfile.TemporaryDirectory() as folder:
        archive, _ = export.build_archive(translator, DEFAULT_MAX_PIXELS)
        archive.write_out(folder, verbose=False)
        loaded = tf.saved_model.load(folder)
        translate, serve_bytes = loaded.signatures["translate"], loaded.signatures["serving_default"]

        rng = np.random.default_rng(0)
        print(f"{'batch':>5}  {'keras eager':>12}  {'keras compiled':>14}  {'saved translate':>15}  "
              f"{'saved bytes':>11}  saved/keras   (images/s)")
        for batch in args.batches:
            levels = rng.integers(0, 256, (batch, args.size, args.size, channels), dtype=np.uint8)
            images = tf.constant(pixels.to_unit_range(levels), tf.float32)
            encoded = tf.constant([png(p) for p in levels])
            calls = {
                "keras eager": lambda: translator(images, training=False).numpy(),
                "keras compiled": lambda: translator.predict_on_batch(images),
                "saved translate": lambda: translate(image=images)["image"].numpy(),
                "saved bytes": lambda: serve_bytes(image_bytes=encoded)["image_bytes"].numpy(),
            }
            rate = images_per_second(calls, batch, args.warmup, args.repeats)
            ratio = rate["saved translate"] / max(rate["keras eager"], rate["keras compiled"])
            print(f"{batch:>5}  {rate['keras eager']:>12.2f}  {rate['keras compiled']:>14.2f}  "
                  f"{rate['saved translate']:>15.2f}  {rate['saved bytes']:>11.2f}  {ratio:>11.3f}")


if __name__ == "__main__":
    main()
