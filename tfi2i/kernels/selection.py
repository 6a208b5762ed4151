"""`train.kernels`: which layer classes the networks are built from and which Adam trains them.

    keras   stock Keras: Conv2D, Conv2DTranspose, BatchNormalization (kernels.batch_norm: its
            moving variance unbiased, as the reference's), GroupNormalization with a group per
            channel (instance norm), tf.pad(mode="REFLECT"), keras.optimizers.Adam
            (kernels.adam.Adam: Keras' update, with the Adam paper's epsilon as an option)
    tuned   tfi2i's CPU-tuned twins of each (this package; every one documents where it was
            measured, all on the 2-core CPU reference machine) and FusedAdam
    auto    tuned where no GPU is visible, keras where one is: the tuned paths replace cuDNN's
            kernels with CPU tricks, and they have never been measured on a GPU

Both sets create the same variables in the same order, so a checkpoint written under one
restores under the other, and the outputs agree within float rounding.
"""

import contextlib
import dataclasses
import functools
from typing import Callable

import tensorflow as tf
from keras import layers

from tfi2i.config.schema import KERNEL_MODES
from tfi2i.kernels.adam import Adam
from tfi2i.kernels.batch_norm import BatchNormalization, TunedBatchNormalization
from tfi2i.kernels.conv import TunedConv2D
from tfi2i.kernels.fused_adam import FusedAdam
from tfi2i.kernels.instance_norm import TunedInstanceNormalization
from tfi2i.kernels.reflection_pad import ReflectionPadding2D, TunedReflectionPadding2D
from tfi2i.kernels.transposed_conv import TunedConv2DTranspose


@dataclasses.dataclass(frozen=True)
class KernelSet:
    """The classes of one mode; each is called as the stock Keras class it stands for."""

    name: str  # "keras" or "tuned"
    Conv2D: Callable
    Conv2DTranspose: Callable
    BatchNormalization: Callable
    InstanceNormalization: Callable  # (epsilon=..., name=...): per image and channel, no affine parameters
    ReflectionPadding2D: Callable  # (padding, name=...)
    Adam: Callable


def _group_per_channel(epsilon=1e-5, **kwargs):
    return layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=epsilon, **kwargs)


KERAS = KernelSet("keras", layers.Conv2D, layers.Conv2DTranspose, BatchNormalization, _group_per_channel,
                  ReflectionPadding2D, Adam)
TUNED = KernelSet("tuned", TunedConv2D, TunedConv2DTranspose, TunedBatchNormalization, TunedInstanceNormalization,
                  TunedReflectionPadding2D, FusedAdam)


@functools.lru_cache(maxsize=None)
def _gpu_visible():
    return bool(tf.config.list_physical_devices("GPU"))


def resolve(mode):
    """'keras' or 'tuned' for a `train.kernels` value; `auto` is decided once per process."""
    if mode == "auto":
        return "keras" if _gpu_visible() else "tuned"
    if mode not in KERNEL_MODES:
        raise ValueError(f"train.kernels must be one of {', '.join(KERNEL_MODES)}, got {mode!r}")
    return mode


def kernel_set(mode):
    """The KernelSet of a `train.kernels` value."""
    return KERAS if resolve(mode) == "keras" else TUNED


_building = []  # the sets of the `building_with` blocks now open, innermost last


@contextlib.contextmanager
def building_with(mode):
    """Networks built inside take their layers from `kernel_set(mode)`."""
    _building.append(kernel_set(mode))
    try:
        yield _building[-1]
    finally:
        _building.pop()


def active():
    """The set the networks built now use: the innermost `building_with`, else `auto`'s."""
    return _building[-1] if _building else kernel_set("auto")
