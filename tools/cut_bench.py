"""CUT and FastCUT against CycleGAN, per training step: time and memory at the same size.

Builds each model from its horse2zebra config (ResNet-9 ngf 64, 70x70 PatchGAN; the paper's
settings) at --size, batch 1, on the same synthetic unpaired JPEG files, and prints side by
side:
  - seconds and images/s of the full training step (both players, every loss) on batches held
    in memory; the rounds alternate between the models in one process, so a slow spell of a
    shared machine hits all of them; and each one's speed over CycleGAN's
  - peak RSS of a process that builds and trains only that model (each in its own child
    process, which `--memory MODEL` runs), and its growth over the peak after the imports:
    the model's own share (Linux: read from /proc)

The paper's claim to check: CUT needs less time and memory per step than CycleGAN (one
generator and one discriminator against two of each), FastCUT less than CUT (no identity pass).
cut_strided is CUT without the anti-aliased sampling, to show what that costs.

    .venv/bin/python tools/cut_bench.py [--size 128] [--steps 3] [--rounds 3] [--set KEY=VALUE ...]
"""

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.data import pipeline  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tools/bench.py

import bench  # noqa: E402

# The CUT configs sample with anti-aliasing, as the paper's code; cut_strided is CUT with
# CycleGAN's strided convolutions, to show what the anti-aliasing costs.
STRIDED = ["model.generator.params.downsampling=strided", "model.generator.params.upsampling=transposed",
           "model.discriminator.params.downsampling=strided"]
MODELS = {"cyclegan": ("cyclegan_horse2zebra.yaml", []), "cut": ("cut_horse2zebra.yaml", []),
          "fastcut": ("fastcut_horse2zebra.yaml", []), "cut_strided": ("cut_horse2zebra.yaml", STRIDED)}


def peak_rss_mib():
    """This process's peak RSS: VmHWM, which starts anew at exec (getrusage's ru_maxrss would
    carry the parent's peak into the child)."""
    with open("/proc/self/status") as status:
        [line] = [line for line in status if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def build(name, root, size, overrides, run_dir):
    config_file, variant = MODELS[name]
    config = config_lib.load(os.path.join(bench.CONFIGS, config_file), [
        f"data.root={root}", f"data.crop_size={size}", f"data.load_size={size * 286 // 256}",
        "train.batch_size=1", "train.report=false", *variant, *overrides])
    return assemble(config, run_dir, log=lambda _: None)


def in_memory(trainer, steps):
    """`steps` + 1 batches of the trainer's pipeline, held in memory, repeated."""
    stream = pipeline.training_stream(trainer.files, trainer.config.data, trainer.config.train.seed, 1)
    batches = [tuple(t.numpy() for t in batch) for batch in stream.take(steps + 1)]
    return tf.data.Dataset.from_tensor_slices(tuple(np.stack(column) for column in zip(*batches))).repeat()


def memory_of(name, root, size, steps, overrides):
    """Prints 'rss BASELINE PEAK' (MiB) for one model trained `steps` steps in this process."""
    baseline = peak_rss_mib()
    with tempfile.TemporaryDirectory() as workdir:
        trainer = build(name, root, size, overrides, os.path.join(workdir, "run"))
        bench.keras_round(trainer.model, in_memory(trainer, steps))(steps)
    print(f"rss {baseline:.0f} {peak_rss_mib():.0f}")


def child_memory(name, root, size, steps, overrides):
    command = [sys.executable, os.path.abspath(__file__), "--memory", name, "--root", root, "--size", str(size),
               "--steps", str(steps), *[f"--set={o}" for o in overrides]]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    baseline, peak = result.stdout.strip().splitlines()[-1].split()[1:]
    return float(baseline), float(peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per model, alternating")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--memory", choices=list(MODELS), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        return memory_of(args.memory, args.root, args.size, args.steps, args.overrides)

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; {args.size}x{args.size}, batch 1; "
          f"medians of {args.rounds} rounds of {args.steps} steps")
    with tempfile.TemporaryDirectory() as workdir:
        root = bench.jpeg_dataset("unpaired", os.path.join(workdir, "data"), args.size * 286 // 256, count=16)
        trainers = {name: build(name, root, args.size, args.overrides, os.path.join(workdir, name))
                    for name in MODELS}
        runs = {name: bench.keras_round(t.model, in_memory(t, args.steps)) for name, t in trainers.items()}
        times = bench.seconds_per_step(runs, args.steps, args.rounds, gemm=lambda repeats: 0.0)
        memory = {name: child_memory(name, root, args.size, args.steps, args.overrides) for name in MODELS}

    base = np.median(times["cyclegan"])
    print(f"{'model':12s} {'s/step':>8s} {'images/s':>9s} {'x CycleGAN':>11s} {'peak RSS MiB':>13s} "
          f"{'over imports':>15s}")
    for name in MODELS:
        step = np.median(times[name])
        baseline, peak = memory[name]
        print(f"{name:12s} {step:8.3f} {1 / step:9.3f} {base / step:11.2f} {peak:13.0f} {peak - baseline:15.0f}")


if __name__ == "__main__":
    main()
