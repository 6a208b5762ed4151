"""tools/repeatability.py's comparison of two runs' checkpoints, on checkpoints written here."""

import numpy as np
import tensorflow as tf

from tests.tools import load_tool
from tfi2i.run import checkpoints


def write_run(run_dir, kernels_by_step):
    """Checkpoints as a run's, numbered by step."""
    kernel = tf.Variable(np.zeros((2, 3), np.float32))
    bias = tf.Variable(np.zeros(3, np.float32))
    step_variable = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(kernel=kernel, bias=bias, step=step_variable),
                                         checkpoints.directory(run_dir), max_to_keep=None)
    for step, value in kernels_by_step.items():
        kernel.assign(value)
        step_variable.assign(step)
        manager.save(checkpoint_number=step)


def test_two_runs_are_compared_step_by_step_and_variable_by_variable(tmp_path):
    repeatability = load_tool("repeatability")
    kernel = np.arange(6, dtype=np.float32).reshape(2, 3)
    parted = kernel.copy()
    parted[1, 2] += 0.25
    write_run(str(tmp_path / "first"), {25: kernel, 50: kernel})
    write_run(str(tmp_path / "second"), {25: kernel, 50: parted})
    first, second = (checkpoints.saved_steps(str(tmp_path / run)) for run in ("first", "second"))
    assert sorted(first) == sorted(second) == [25, 50]
    compared, differing, largest = repeatability.differences(first[25], second[25])
    assert differing == 0 and largest == 0.0 and compared >= 3
    compared, differing, largest = repeatability.differences(first[50], second[50])
    assert differing == 1 and largest == 0.25
