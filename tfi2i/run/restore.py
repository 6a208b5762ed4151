"""A model restored from a run directory: its config, the networks it names, a checkpoint's
weights."""

from tfi2i.errors import Tfi2iError
from tfi2i.models import factory
from tfi2i.run import checkpoints, directory


def restore_model(run_dir, checkpoint="latest", kernel_mode="auto"):
    """(config, model with the checkpoint's weights, step) of a training run, its networks
    built from `kernel_mode`'s layers: the checkpoint fits either set (tfi2i.kernels)."""
    config = directory.saved_config(run_dir)
    steps = checkpoints.saved_steps(run_dir)
    if not steps:
        raise Tfi2iError(f"run '{run_dir}' has no checkpoint yet; train it first (tfi2i train --resume {run_dir})")
    step = max(steps) if checkpoint == "latest" else int(checkpoint)
    if step not in steps:
        raise Tfi2iError(
            f"run '{run_dir}' has no checkpoint of step {checkpoint}; "
            f"use --checkpoint latest or one of {', '.join(map(str, sorted(steps)))}"
        )
    model = factory.build_model(config, kernel_mode)
    checkpoints.restore_weights(model, steps[step])
    return config, model, step
