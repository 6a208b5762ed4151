"""The sizes of TensorFlow's thread pools: train.intra_op_threads and train.inter_op_threads."""

import math
import os

import tensorflow as tf


def default_sizes():
    """tfi2i's choice where the config leaves a size unset: without a GPU, two ops at once,
    each split over half the cores; with one, TensorFlow's choice (0).

    A GAN step's graph runs two independent branches most of the time (two generators, two
    discriminators, a generator's and a discriminator's backward pass). TensorFlow's own
    default gives both pools one thread per core, so two convolutions at once each split over
    every core and slow each other down: on 2 cores the CycleGAN step ran 1.7-9% faster with
    one thread per op and two ops at once (six pairs of runs); pix2pix's stayed within the
    run-to-run spread."""
    if tf.config.list_physical_devices("GPU"):
        return {"intra_op": 0, "inter_op": 0}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return {"intra_op": math.ceil(cores / 2), "inter_op": 2}


def configure(intra_op, inter_op, log):
    """Sizes the pool each op splits its work over (intra) and the pool that runs independent
    ops at once (inter); 0 leaves TensorFlow's choice (one thread per core for each), None
    tfi2i's (`default_sizes`).

    TensorFlow fixes both when it first runs anything. Where it runs already (a second trainer
    in one process), the sizes stay as they are, and a note says so where a size asked for in
    the config differs."""
    threading = tf.config.threading
    chosen = default_sizes() if intra_op is None or inter_op is None else {}
    wanted = {"intra_op": (intra_op, threading.get_intra_op_parallelism_threads,
                           threading.set_intra_op_parallelism_threads),
              "inter_op": (inter_op, threading.get_inter_op_parallelism_threads,
                           threading.set_inter_op_parallelism_threads)}
    for key, (asked, get, set_) in wanted.items():
        threads = chosen[key] if asked is None else asked
        if not threads or threads == get():
            continue
        try:
            set_(threads)
        except RuntimeError:  # TensorFlow runs already
            if asked is not None:
                log(f"note: train.{key}_threads={threads} is ignored: this process started TensorFlow with "
                    f"{get() or 'its default'}; it applies to a new process")
