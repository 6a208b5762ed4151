"""A model restored from a run directory: its config, the networks it names, a checkpoint's
weights."""

import sys

from tfi2i.errors import Tfi2iError
from tfi2i.models import factory
from tfi2i.run import checkpoints, directory


def _to_stderr(line):
    print(line, file=sys.stderr)


def restore_model(run_dir, checkpoint="latest", kernel_mode="auto", warn=_to_stderr):
    """(config, model with the checkpoint's weights, step) of a training run, its networks
    built from `kernel_mode`'s layers: the checkpoint fits either set (tfi2i.kernels).
    'latest' is the newest checkpoint that restores; each damaged newer one is `warn`ed of."""
    config = directory.saved_config(run_dir)
    steps = checkpoints.saved_steps(run_dir)
    if not steps:
        raise Tfi2iError(f"run '{run_dir}' has no checkpoint yet; train it first (tfi2i train --resume {run_dir})")
    if checkpoint != "latest" and int(checkpoint) not in steps:
        raise Tfi2iError(
            f"run '{run_dir}' has no checkpoint of step {checkpoint}; "
            f"use --checkpoint latest or one of {', '.join(map(str, sorted(steps)))}"
        )
    model = factory.build_model(config, kernel_mode)
    candidates = sorted(steps, reverse=True) if checkpoint == "latest" else [int(checkpoint)]
    for step in candidates:
        try:
            checkpoints.restore_weights(model, steps[step])
            return config, model, step
        except checkpoints.UnreadableCheckpoint as error:
            if checkpoint != "latest":
                raise Tfi2iError(f"{error}: it is damaged; use --checkpoint latest or another step") from None
            warn(f"warning: {error}; trying an older one")
    raise Tfi2iError(
        f"no checkpoint of run '{run_dir}' could be read (all damaged); "
        f"train it again in a new --run-dir"
    )
