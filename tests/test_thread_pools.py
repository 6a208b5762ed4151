import subprocess
import sys

import pytest
import tensorflow as tf

from tfi2i import config as config_lib
from tfi2i.runtime import thread_pools
from tfi2i.errors import Tfi2iError
from tfi2i.training.assembly import assemble

SIZED_PROCESS = """
import tensorflow as tf
from tfi2i.runtime import thread_pools
notes = []
thread_pools.configure(1, 3, notes.append)
print(float(tf.reduce_sum(tf.ones([4]))))  # TensorFlow starts with the sizes asked for
thread_pools.configure(2, 3, notes.append)  # too late for intra_op; inter_op is unchanged
print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())
print(notes)
"""


def test_a_new_process_gets_the_pool_sizes_asked_for():
    result = subprocess.run([sys.executable, "-c", SIZED_PROCESS], capture_output=True, text=True, check=True)
    total, sizes, notes = result.stdout.strip().splitlines()
    assert total == "4.0" and sizes == "1 3"
    assert notes == ("['note: train.intra_op_threads=2 is ignored: this process started TensorFlow with 1; "
                     "it applies to a new process']")


UNSET_PROCESS = """
import os
import tensorflow as tf
from tfi2i.runtime import thread_pools
thread_pools.configure(None, None, print)
print(len(os.sched_getaffinity(0)), tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


def test_unset_sizes_split_the_cores_between_two_ops_without_a_gpu():
    result = subprocess.run([sys.executable, "-c", UNSET_PROCESS], capture_output=True, text=True, check=True)
    cores, intra_op, inter_op = map(int, result.stdout.split())
    assert (intra_op, inter_op) == ((cores + 1) // 2, 2)


def test_unset_sizes_are_tensorflows_with_a_gpu(monkeypatch):
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else [])
    assert thread_pools.default_sizes() == {"intra_op": 0, "inter_op": 0}


def test_a_trainer_in_a_running_process_notes_that_its_sizes_stay(tiny_config, tmp_path):
    tf.zeros([1]).numpy()  # TensorFlow runs in this process (as after any earlier test)
    lines = []
    assemble(tiny_config("train.inter_op_threads=7"), str(tmp_path / "run"), log=lines.append)
    started_with = tf.config.threading.get_inter_op_parallelism_threads() or "its default"
    assert (f"note: train.inter_op_threads=7 is ignored: this process started TensorFlow with {started_with}; "
            "it applies to a new process") in lines
    lines.clear()  # tfi2i's own choice, where the config leaves the sizes unset, goes unmentioned
    assemble(tiny_config(), str(tmp_path / "plain"), log=lines.append)
    assert not any("_threads" in line for line in lines)


@pytest.mark.parametrize("key", ["intra_op_threads", "inter_op_threads"])
def test_negative_pool_sizes_are_refused(key):
    with pytest.raises(Tfi2iError, match=f"config key 'train.{key}' is -1; it must be 0 or more"):
        config_lib.load(None, ["data.root=x", f"train.{key}=-1"])
