"""The tf.distribute strategy of `distribute`:

    none          the default strategy: one device
    mirrored      MirroredStrategy over train.devices, or every visible GPU (the CPU when none)
    multi_worker  MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (trained with
                  training.custom_loop; Keras fit is broken under it)
"""

import functools
import os

import tensorflow as tf

from tfi2i.errors import Tfi2iError


def build_strategy(name, devices=None):
    if name == "none":
        if devices:
            raise Tfi2iError("train.devices lists devices for distribute: mirrored; set distribute: mirrored or drop it")
        return tf.distribute.get_strategy()
    if name == "mirrored":
        known = {_short_name(d.name) for d in tf.config.list_logical_devices()}
        missing = [d for d in devices or () if _short_name(d) not in known]
        if missing:
            raise Tfi2iError(
                f"train.devices names '{missing[0]}', which this machine does not have; "
                f"pick from {', '.join('/' + d for d in sorted(known))} or leave train.devices out"
            )
        return _mirrored_strategy(tuple("/" + _short_name(d) for d in devices or ()))
    if name == "multi_worker":
        if devices:
            raise Tfi2iError("train.devices applies to distribute: mirrored; each worker uses its own GPUs")
        if "TF_CONFIG" not in os.environ:
            raise Tfi2iError(
                "distribute: multi_worker needs the cluster in the TF_CONFIG environment variable of every "
                "worker; see the README's 'Training on several machines'"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise Tfi2iError(f"distribute '{name}' is not supported; use 'none', 'mirrored' or 'multi_worker'")


def is_chief(strategy):
    """Whether this process writes the run (checkpoints, logs, samples, report): always, but
    for the non-chief workers of a multi-worker cluster."""
    return strategy.extended.should_checkpoint


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    # One strategy per device set and process: a second MirroredStrategy over the same devices
    # would issue collectives (synchronized batch norm) that clash with the first one's.
    return tf.distribute.MirroredStrategy(devices=list(devices) or None)


def _short_name(device):
    """'/gpu:0', 'GPU:0', '/device:GPU:0' or '/job:localhost/replica:0/task:0/device:GPU:0' -> 'gpu:0'."""
    return device.lower().rsplit("/", 1)[-1].removeprefix("device:")
