"""Do two runs of one seed end with the same weights? Where do they part?

Trains pix2pix on CMP facades (tools/parity.py's labels -> photo settings: U-Net-128 ngf 64,
load 143, crop 128, batch 1, constant rate) twice for --steps, from the same config and seed,
each in its own process, with a checkpoint every --save-every steps. Prints, for each saved
step, how many variables of the two runs differ and the largest absolute difference, and the
step time each run reported (Keras' progress line: the mean over the run, first step included).

    .venv/bin/python tools/repeatability.py [--steps 300] [--save-every 25] [--seed 1]
        [--set KEY=VALUE ...]      # tfi2i config overrides for both runs, e.g.
                                   # train.inter_op_threads=1 or train.kernels=keras
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfi2i.run import checkpoints  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tools/parity.py

import parity  # noqa: E402


def train(data_root, args, run_dir):
    """Trains one run in a new process (TensorFlow fixes its thread pools per process); the
    ms a step it reported."""
    settings = {"size": 128, "load_size": 143, "steps": args.steps, "epochs": None, "norm": "batch", "ngf": 64,
                "direction": "b2a"}
    sets = {**parity.tfi2i_overrides("labels2photo", settings, data_root, args.seed),
            "train.save_every_steps": args.save_every, "train.keep_checkpoints": args.steps // args.save_every + 1,
            **dict(args.set)}
    _, stdout = parity.run_tfi2i_train("pix2pix_facades.yaml", run_dir, sets)
    timing = re.findall(r"(\d+)(ms|s)/step", stdout)
    if not timing:
        return float("nan")
    value, unit = timing[-1]
    return float(value) * (1000 if unit == "s" else 1)


def differences(first, second):
    """(variables compared, how many differ, largest |difference|) of two checkpoints."""
    readers = [tf.train.load_checkpoint(prefix) for prefix in (first, second)]
    names = sorted(readers[0].get_variable_to_shape_map())
    differing, largest = 0, 0.0
    for name in names:
        a, b = (np.asarray(reader.get_tensor(name)) for reader in readers)
        if a.dtype.kind not in "fiub":  # a checkpoint's bookkeeping strings
            continue
        if not np.array_equal(a, b):
            differing += 1
            largest = max(largest, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))
    return len(names), differing, largest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], type=lambda kv: tuple(kv.split("=", 1)),
                        metavar="KEY=VALUE", help="a tfi2i config override for both runs")
    parser.add_argument("--data", default=parity.DEFAULT_DATA)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="tfi2i-repeatability-")
    data_root = parity.prepare_data(args.data, work, "labels2photo")
    runs = [os.path.join(work, f"run{i}") for i in (1, 2)]
    step_ms = [train(data_root, args, run) for run in runs]
    print(f"pix2pix labels -> photo, seed {args.seed}, overrides {dict(args.set)}: "
          f"{step_ms[0]:.0f} and {step_ms[1]:.0f} ms a step")
    print(f"{'step':>6} {'variables':>9} {'differ':>7} {'max |diff|':>11}")
    first, second = (checkpoints.saved_steps(run) for run in runs)
    for step in sorted(set(first) & set(second)):
        compared, differing, largest = differences(first[step], second[step])
        print(f"{step:>6} {compared:>9} {differing:>7} {largest:>11.3g}", flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
