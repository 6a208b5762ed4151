"""Training speed of the reference-size models on this machine, under both `train.kernels` sets.

For CycleGAN (ResNet-9, ngf 64) at 128x128 and pix2pix (U-Net-256, ngf 64) at 256x256, batch 1,
each built twice, from stock Keras layers (`keras`) and from tfi2i's CPU-tuned ones (`tuned`),
prints side by side:
  - seconds and images/s of the full training step (both players, every loss), on in-memory
    tensors, and the ratio of the two modes' step times
  - the step's FLOPs, counted over the ops of the stock-Keras train_step that run (TensorFlow's
    per-op counts, convolution gradients as the convolutions they differentiate): the model's
    work, the same for both modes
  - achieved GFLOP/s, and that as a share of the GEMM peak measured in the same run, before
    each round of steps, in the dtype the layers compute in (float32; bfloat16 under
    train.mixed_precision on CPU)
  - the tf.data overhead: steps/s on the real pipeline (JPEG files decoded, resized, cropped,
    flipped) against the same batches held in memory
  - peak RSS of the process
The rounds alternate between the modes and the data sources, so a slow spell of a shared
machine hits all of them.

    .venv/bin/python tools/bench.py [--models cyclegan pix2pix] [--steps 5] [--rounds 5]
        [--set train.kernels=tuned]          # one mode only
        [--set train.mixed_precision=true] [--set train.jit_compile=true]
        [--set train.intra_op_threads=0 --set train.inter_op_threads=0]   # TensorFlow's pools

Beside them, in the same alternating rounds on the same batches, the same step of
tools/reference_torch.py (the reference's semantics in PyTorch, torch's own CPU threads; the
parity extra: pip install -e ".[parity]"), and tfi2i's speed over it. --no-reference leaves it out.
"""

import argparse
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.data import folders, pipeline, synthetic  # noqa: E402
from tfi2i.runtime import thread_pools  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tools/reference_torch.py

CONFIGS = os.path.join(os.path.dirname(__file__), os.pardir, "configs")
CASES = {
    "cyclegan": ("cyclegan_horse2zebra.yaml", 128, "unpaired"),
    "pix2pix": ("pix2pix_facades.yaml", 256, "paired"),
}
CONV_GRADIENTS = ("Conv2DBackpropInput", "Conv2DBackpropFilter")
MODES = ("keras", "tuned")


def gemm_meter(dtype="float32", size=2048):
    """A function that measures the matmul GFLOP/s of `size` x `size` matrices of `dtype`,
    best of `repeats` runs of one product and of two independent ones (two fill the machine
    where each op gets half the cores, as tfi2i's thread pools have it without a GPU)."""
    a, b, c = (tf.cast(tf.random.normal([size, size]), dtype) for _ in range(3))
    one = tf.function(lambda: [tf.matmul(a, b)])
    two = tf.function(lambda: [tf.matmul(a, b), tf.matmul(b, c)])
    for products in (one, two):
        products()

    def measure(repeats):
        best = 0.0
        for products in (one, two):
            for _ in range(repeats):
                start = time.perf_counter()
                outputs = products()
                [output.numpy() for output in outputs]
                best = max(best, len(outputs) * 2 * size**3 / (time.perf_counter() - start) / 1e9)
        return best

    return measure


def step_flops(model, size, channels):
    """FLOPs of one train_step at batch 1: TensorFlow's per-op counts over the ops of the
    traced graph that run, with the convolution gradients counted as the convolutions they
    differentiate.

    TensorFlow counts a Conv2DBackpropInput/Filter from the size of the convolution's input,
    padding included: 13% too many for a 3x3 conv on a reflection-padded 32x32 image. Here
    each counts 2 x (the forward conv's output elements) x kernel height x width x input
    channels, as the forward Conv2D is counted. Give it a model of stock Keras layers: the
    tuned convolution on 2x2 pixel blocks multiplies zero taps, which are no work of the model."""
    specs = (tf.TensorSpec([1, size, size, channels[0]]), tf.TensorSpec([1, size, size, channels[1]]))
    graph = tf.function(model.train_step).get_concrete_function(specs).graph
    return graph_flops(executed_ops(graph))


def executed_ops(graph):
    """The ops of a traced function that run: those its outputs or its stateful ops (variable
    updates, random draws) depend on. The function runtime prunes the others, such as the
    gradients a tape builds that no one reads: a GradientTape differentiates every op between
    its loss and any variable read in its context, so a GAN step's discriminator tape also
    builds the generator's backward pass (in pix2pix a third of the traced FLOPs)."""
    needed = set()
    pending = [tensor.op for tensor in graph.outputs]
    pending += [op for op in graph.get_operations() if op.op_def.is_stateful]
    while pending:
        op = pending.pop()
        if op not in needed:
            needed.add(op)
            pending += [tensor.op for tensor in op.inputs] + list(op.control_inputs)
    return [op for op in graph.get_operations() if op in needed]


def graph_flops(operations):
    """TensorFlow's FLOP counts of `operations`, convolution gradients counted as the
    convolutions they differentiate."""
    from tensorflow.python.framework import ops
    from tensorflow.python.profiler.internal import flops_registry  # noqa: F401  (registers the counts)

    total = 0
    for op in operations:
        if op.type in CONV_GRADIENTS:
            kernel = op.outputs[0] if op.type == "Conv2DBackpropFilter" else op.inputs[1]
            height, width, in_channels, _ = kernel.shape
            total += 2 * op.inputs[2].shape.num_elements() * height * width * in_channels
        else:
            total += ops.get_stats_for_node_def(op.graph, op.node_def, "flops").value or 0
    return total


def jpeg_dataset(kind, folder, size, count):
    """The synthetic data at `size`, re-encoded as JPEG files (what real datasets hold)."""
    synthetic.write(kind, folder, count=count, size=size, seed=0)
    for path in folders.list_images(folder):
        Image.open(path).convert("RGB").save(os.path.splitext(path)[0] + ".jpg", quality=95)
        os.remove(path)
    return folder


def keras_round(model, dataset):
    """A function timing `steps` training steps of a Keras model by `fit`."""
    clock = StepClock()

    def seconds_per_step(steps):
        model.fit(dataset, steps_per_epoch=steps + 1, epochs=1, verbose=0, callbacks=[clock])
        return clock.seconds_per_step()

    return seconds_per_step


def reference_round(name, config, batches):
    """A function timing `steps` steps of the reference's model in PyTorch on `batches`
    (NHWC arrays), from the end of the first step to the end of the last, as StepClock."""
    import torch

    import reference_torch as ref

    torch.set_num_threads(os.cpu_count() or 1)
    g, d = config.model.generator.params, config.model.discriminator.params
    if name == "cyclegan":
        model = ref.cyclegan_model(g.get("ngf", 64), d.get("ndf", 64), g.get("norm", "instance"))
    else:
        model = ref.pix2pix_model(config.data.crop_size, g.get("ngf", 64), d.get("ndf", 64), g.get("norm", "batch"))
    tensors = [tuple(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in batch) for batch in batches]
    for batch in tensors[:2]:
        model.train_step(*batch)  # warm up

    def seconds_per_step(steps):
        ends = []
        for i in range(steps + 1):
            model.train_step(*tensors[i % len(tensors)])
            ends.append(time.perf_counter())
        return (ends[-1] - ends[0]) / steps

    return seconds_per_step


class StepClock(keras.callbacks.Callback):
    """Times the steps of one `fit` from the end of its first step to the end of its last.

    The first step pays for a new iterator filling its buffers, and the iterator's teardown
    after the last step is not training: tf.data's autotuning thread can hold the teardown for
    seconds (until its next wake-up; the wake-ups come 10 ms, 20 ms, ... 10.24 s apart), which
    a `fit` per round would add to the round's time."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def seconds_per_step(self):
        return (self.ends[-1] - self.ends[0]) / (len(self.ends) - 1)


def seconds_per_step(runs, steps, rounds, gemm):
    """{name: [seconds per step of each round]} of each timing function in `runs`, and under
    "gemm" the GEMM peak measured just before each round. The rounds alternate between the
    runs, so a slow spell of a shared machine hits all of them, and the GEMM as well."""
    for time_round in runs.values():
        time_round(1)  # trace and warm up
    times = {name: [] for name in ["gemm", *runs]}
    for _ in range(rounds):
        times["gemm"].append(gemm(repeats=5))
        for name, time_round in runs.items():
            times[name].append(time_round(steps))
    return times


def bench(name, steps, rounds, overrides, modes, workdir, with_reference):
    config_file, size, kind = CASES[name]
    load_size = size * 286 // 256
    root = jpeg_dataset(kind, os.path.join(workdir, name), load_size, count=64)

    def trainer(mode):
        """The model, optimizers and data files of `mode` exactly as `tfi2i train` builds them."""
        config = config_lib.load(os.path.join(CONFIGS, config_file), [
            f"data.root={root}", f"data.crop_size={size}", f"data.load_size={load_size}",
            "train.batch_size=1", "train.report=false", *overrides, f"train.kernels={mode}"])
        return assemble(config, os.path.join(workdir, f"{name}_{mode}_run"), log=lambda _: None)

    trainers = {mode: trainer(mode) for mode in modes}
    first = trainers[modes[0]]
    config, policy = first.config, first.dtype_policy
    # The peak of the dtype the convolutions compute in: bfloat16 under mixed precision on CPU.
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    gemm = gemm_meter(compute_dtype)
    channels = (config.data.input_nc, config.data.output_nc)
    stock = trainers["keras"] if "keras" in trainers else trainer("keras")
    flops = step_flops(stock.model, size, channels)
    stream = pipeline.training_stream(first.files, config.data, config.train.seed, 1)
    # The same images held in memory: only the pipeline's work differs. (Random tensors are
    # no fair baseline: a step on them ran up to 15% slower than on images here.)
    # Materialized, so that nothing of the pipeline runs in the baseline (a `.cache()` fills
    # only once an iterator has read it to its end).
    batches = [tuple(t.numpy() for t in batch) for batch in stream.take(steps + 1)]
    in_memory = tf.data.Dataset.from_tensor_slices(tuple(np.stack(column) for column in zip(*batches))).repeat()
    runs = {}
    for mode, trainer in trainers.items():
        runs[(mode, "memory")] = keras_round(trainer.model, in_memory)
        runs[(mode, "files")] = keras_round(trainer.model, stream)
    if with_reference:
        runs["reference"] = reference_round(name, config, batches)
    times = seconds_per_step(runs, steps, rounds, gemm)

    print(f"\n{name} {size}x{size}, batch 1, generator {config.model.generator.name} "
          f"{config.model.generator.params}, policy {policy}, jit_compile {config.train.jit_compile}; "
          f"medians of {rounds} rounds of {steps} steps")
    print(f"  FLOPs per step (ops that run)  {flops / 1e9:.1f} GFLOP")
    print(f"  {compute_dtype} GEMM peak in the rounds  {np.median(times['gemm']):.1f} GFLOP/s median "
          f"({min(times['gemm']):.1f}-{max(times['gemm']):.1f})")
    rows = {mode: _figures(times[(mode, "memory")], times[(mode, "files")], times["gemm"], flops) for mode in modes}
    print(f"  {'':34}" + "".join(f"{mode:>14}" for mode in modes))
    for label, key, fmt in [("training step (batches in memory)", "step", "{:.3f} s"),
                            ("  best round", "best", "{:.3f} s"),
                            ("images/s", "images", "{:.3f}"),
                            ("achieved GFLOP/s", "achieved", "{:.1f}"),
                            ("of the GEMM peak (rounds' median)", "share", "{:.1%}"),
                            ("with the JPEG tf.data pipeline", "with_data", "{:.3f} s"),
                            ("tf.data overhead", "overhead", "{:+.1%}")]:
        print(f"  {label:34}" + "".join(f"{fmt.format(rows[mode][key]):>14}" for mode in modes))
    if len(modes) == 2:
        ratios = [k / t for k, t in zip(times[("keras", "memory")], times[("tuned", "memory")])]
        print(f"  tuned speed-up: keras step / tuned step = {rows['keras']['step'] / rows['tuned']['step']:.3f} "
              f"(per round {min(ratios):.3f}-{max(ratios):.3f})")
    if with_reference:
        reference = np.median(times["reference"])
        print(f"  PyTorch reference (torch {_torch_version()}, {os.cpu_count()} threads): {reference:.3f} s a step, "
              f"{1 / reference:.3f} images/s, rounds {min(times['reference']):.3f}-{max(times['reference']):.3f} s")
        for mode in modes:
            ratios = [r / t for r, t in zip(times["reference"], times[(mode, "memory")])]
            print(f"  tfi2i {mode} speed over the reference: {reference / rows[mode]['step']:.2f}x "
                  f"(per round {min(ratios):.2f}-{max(ratios):.2f})")


def _torch_version():
    import torch

    return torch.__version__


def _figures(memory, files, gemm, flops):
    # Medians: single rounds on this shared machine vary by a few percent, and so does the
    # GEMM peak from one process to the next (434-482 GFLOP/s seen).
    step, with_data = np.median(memory), np.median(files)
    return {"step": step, "best": min(memory), "images": 1 / step, "achieved": flops / step / 1e9,
            "share": np.median([flops / t / 1e9 / peak for t, peak in zip(memory, gemm)]),
            "with_data": with_data, "overhead": with_data / step - 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode and data source, alternating")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-reference", action="store_true", help="leave out the PyTorch reference's step")
    args = parser.parse_args()
    with_reference = not args.no_reference
    if with_reference:
        try:
            import torch  # noqa: F401
        except ImportError:
            parser.exit(2, 'error: the PyTorch reference needs the parity extra: pip install -e ".[parity]" '
                           '(or pass --no-reference)\n')

    # The thread pools first: TensorFlow fixes them when it first runs anything.
    train = config_lib.load(os.path.join(CONFIGS, CASES[args.models[0]][0]), ["data.root=unused", *args.overrides]).train
    thread_pools.configure(train.intra_op_threads, train.inter_op_threads, print)
    # Both modes, unless the command line names one.
    modes = MODES if train.kernels == "auto" else (train.kernels,)
    keras.utils.set_random_seed(0)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"devices {[d.name for d in tf.config.list_logical_devices()]}, threads per op "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, ops at once "
          f"{tf.config.threading.get_inter_op_parallelism_threads() or 'default'}, kernels {', '.join(modes)}")
    print(f"float32 GEMM peak (2048x2048 matmuls, one or two at once, best of 10): {gemm_meter()(repeats=10):.1f} GFLOP/s; "
          f"measured again before each round")
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models:
            bench(name, args.steps, args.rounds, args.overrides, modes, workdir, with_reference)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
