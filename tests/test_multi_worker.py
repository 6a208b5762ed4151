import json
import os
import re
import socket
import subprocess
import sys
import signal
import tempfile

import numpy as np
import pytest

from tests.conftest import TINY, TINY_CUT, EpochLogs
from tfi2i import config as config_lib
from tfi2i.training.assembly import assemble

SCRIPT = os.path.join(os.path.dirname(__file__), "multi_worker_run.py")
OVERRIDES = [*TINY, "model.generator.params.dropout=false", "train.report=false", "train.steps_per_epoch=2",
             "train.n_epochs=2", "train.n_epochs_decay=0"]


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def epoch_logs(output):
    """{epoch: {name: value}} from the custom loop's 'epoch N: name: value - ...' lines."""
    found = {}
    for match in re.finditer(r"^epoch (\d+): (.*)$", output, re.MULTILINE):
        found[int(match[1])] = {k: float(v) for k, v in (item.split(": ") for item in match[2].split(" - "))}
    return found


# CUT with FastCUT's flips: its heads, patch draws and coins must stay in step across the
# workers too.
MODELS = {
    "pix2pix": ("paired_root", OVERRIDES),
    "cut": ("unpaired_root", [*OVERRIDES, *TINY_CUT, "model.params.flip_equivariance=true"]),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_two_workers_train_alike_and_only_the_chief_writes(request, tmp_path, name):
    fixture, overrides = MODELS[name]
    root = request.getfixturevalue(fixture)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    run_dir = tmp_path / "run"
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, SCRIPT, root, str(run_dir), str(tmp_path / f"worker{index}.npz"), *overrides],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=300)[0])
        finally:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-4000:]
    assert "chief=True step=4 replicas=2" in outputs[0] and "chief=False step=4 replicas=2" in outputs[1]

    weights = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert weights[0].files == weights[1].files and len(weights[0].files) > 20
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
    # Both report the global batch's losses: the same numbers.
    logs = [epoch_logs(output) for output in outputs]
    assert sorted(logs[0]) == [1, 2] and logs[0] == logs[1]

    # The chief wrote the run; the other worker's checkpoint copies went to a temporary
    # folder, removed when it finished.
    saved = sorted(n for n in os.listdir(run_dir / "checkpoints") if n.endswith(".index"))
    assert saved == ["ckpt-2.index", "ckpt-4.index"]
    assert sorted(os.listdir(run_dir / "samples")) == ["epoch_0001.png", "epoch_0002.png"]
    assert not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("tfi2i-worker-checkpoints-")
                and os.path.getmtime(os.path.join(tempfile.gettempdir(), n)) > os.path.getmtime(tmp_path)]

    # And they train as one device with the global batch does (same losses, float tolerance).
    config = config_lib.load(None, [f"data.root={root}", *overrides])
    single = EpochLogs()
    assemble(config, str(tmp_path / "single"), log=lambda _: None).fit([single])
    for epoch, values in logs[0].items():
        assert values == pytest.approx({k: single.logs[epoch - 1][k] for k in values}, rel=1e-3)


def test_a_signal_to_one_worker_stops_both_after_the_same_step(paired_root, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    long_run = [*OVERRIDES, "train.steps_per_epoch=4", "train.n_epochs=500"]
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, SCRIPT, paired_root, str(tmp_path / "run"), str(tmp_path / f"worker{index}.npz"), *long_run],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        # Wait until the other worker is training (its first epoch line), then stop it alone.
        for line in workers[1].stdout:
            if line.startswith("epoch 2:"):
                break
        workers[1].send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-4000:]
    steps = [int(re.search(r"step=(\d+)", output)[1]) for output in outputs]
    assert steps[0] == steps[1] and 8 <= steps[0] < 2000
    weights = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
