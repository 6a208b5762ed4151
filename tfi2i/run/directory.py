"""A run directory: its resolved config and the rules for continuing a run in it.

    RUN_DIR/config.yaml     the resolved config (every key, defaults included)
    RUN_DIR/checkpoints/    tf.train.CheckpointManager files (damaged/: ones that did not restore)
    RUN_DIR/samples/        sample grids per epoch
    RUN_DIR/logs/           TensorBoard event files
    RUN_DIR/data/           the synthetic dataset, when the config asks for one
    RUN_DIR/train.lock      who trains the run now (tfi2i.run.lock)
"""

import os

from tfi2i import config as config_lib
from tfi2i.errors import Tfi2iError

CONFIG_FILE = "config.yaml"

# Keys a continued run may change: they extend, observe or pace training, not what is trained.
RESUMABLE_CHANGES = (
    "data.root",
    "train.n_epochs",
    "train.n_epochs_decay",
    "train.save_every_epochs",
    "train.save_every_steps",
    "train.keep_checkpoints",
    "train.keep_every_epochs",
    "train.sample_every_epochs",
    "train.num_samples",
    "train.log_every_steps",
    "train.val_steps",
    "train.report",
    "train.eval_",
    "train.intra_op_threads",
    "train.inter_op_threads",
    "train.kernels",  # the same variables either way (tfi2i.kernels)
)


def config_path(run_dir):
    return os.path.join(run_dir, CONFIG_FILE)


def is_run(path):
    return os.path.isfile(config_path(path))


def check_is_run(run_dir):
    """Refuses a folder that holds no run, in one line."""
    if not is_run(run_dir):
        raise Tfi2iError(f"'{run_dir}' holds no {CONFIG_FILE}, so it is no tfi2i run; check the run directory's path")


def saved_config(run_dir, overrides=()):
    """The config a run was started with, plus overrides (for --resume RUN_DIR)."""
    check_is_run(run_dir)
    return config_lib.load(config_path(run_dir), overrides)


def check_continuable(run_dir, config):
    """Refuses to continue a run in `run_dir` with a config that changes what is trained."""
    if not is_run(run_dir):
        return
    old = config_lib.to_dict(config_lib.load(config_path(run_dir)))
    changed = [
        key for key in config_lib.differences(old, config_lib.to_dict(config))
        if not key.startswith(RESUMABLE_CHANGES)
    ]
    if changed:
        raise Tfi2iError(
            f"run dir '{run_dir}' holds a run with a different config ({', '.join(changed[:3])} differ); "
            f"pass --run-dir NEW_DIR for a new run, or --resume {run_dir} to continue it as it was"
        )


def write_config(run_dir, config):
    """Writes config.yaml atomically (a temp file renamed over the old one)."""
    os.makedirs(run_dir, exist_ok=True)
    path = config_path(run_dir)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(config_lib.to_yaml(config))
    os.replace(path + ".tmp", path)
