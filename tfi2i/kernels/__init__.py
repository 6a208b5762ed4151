"""Layers and the optimizer the networks train with, chosen by `train.kernels` (see selection).

The CPU-tuned classes (Tuned*, FusedAdam) are reached through `selection` only: networks ask
`active()` for their layer classes, the model factory asks `kernel_set()` for its Adam.
"""

from tfi2i.kernels.selection import KERAS, TUNED, KernelSet, active, building_with, kernel_set, resolve

__all__ = ["KERAS", "TUNED", "KernelSet", "active", "building_with", "kernel_set", "resolve"]
