"""Mixed precision: float16 on GPUs (with loss scaling), bfloat16 on CPUs, float32 heads.

Every network's last layer (the generators' tanh, the discriminators' logits, UNIT's latent
mean) computes in float32 whatever the policy, so losses and the image pool see float32.
"""

import contextlib

import keras
import tensorflow as tf


def policy_name(mixed_precision):
    """The Keras dtype policy `train.mixed_precision` asks for on this machine."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


@contextlib.contextmanager
def dtype_policy(name):
    """Layers built inside take `name` as their dtype policy; the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def wrap_optimizer(optimizer, policy):
    """float16 needs dynamic loss scaling against gradient underflow; bfloat16, with float32's
    exponent range, does not."""
    if policy == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
