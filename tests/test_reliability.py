"""What a run survives: a second trainer on its directory, a damaged checkpoint, a killed
lock holder (bad input: tests/test_bad_inputs.py)."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from tests.test_cli import TFI2I, tiny_args
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError
from tfi2i.run import checkpoints, lock
from tfi2i.run.restore import restore_model
from tfi2i.training.assembly import assemble


def file_digests(folder):
    """{relative path: sha256} of every file under `folder`."""
    digests = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def checkpoint_values(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)}


def wait_for(condition, process, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)


def refused(*args):
    result = subprocess.run([TFI2I, *args], capture_output=True, text=True, timeout=120)
    return result.returncode, result.stderr


def test_a_second_trainer_is_refused_in_one_line_and_the_first_learns_as_a_lone_run(paired_root, tmp_path):
    lone_dir, first_dir = tmp_path / "lone", tmp_path / "first"
    lone = subprocess.Popen([TFI2I, *tiny_args(paired_root, lone_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = subprocess.Popen([TFI2I, *tiny_args(paired_root, first_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # config.yaml is written once the lock is held; the pause keeps the first one training.
        wait_for(lambda: os.path.exists(first_dir / "config.yaml"), first)
        first.send_signal(signal.SIGSTOP)
        before = file_digests(first_dir)
        for args in (tiny_args(paired_root, first_dir), ["train", "--resume", str(first_dir)],
                     ["report", str(first_dir)]):
            code, err = refused(*args)
            assert code == 2, err
            assert len(err.splitlines()) == 1 and err.startswith(
                f"error: run dir '{first_dir}' is in use by pid {first.pid} on "), err
        assert file_digests(first_dir) == before
    finally:
        first.send_signal(signal.SIGCONT)
    for process in (first, lone):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    lone_values = checkpoint_values(str(lone_dir / "checkpoints" / "ckpt-16"))
    first_values = checkpoint_values(str(first_dir / "checkpoints" / "ckpt-16"))
    assert lone_values.keys() == first_values.keys()
    for name, value in lone_values.items():
        if isinstance(value, bytes):  # the object graph
            assert first_values[name] == value, name
        else:
            np.testing.assert_allclose(first_values[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


HOLDER = """
import sys
from tfi2i.run import lock
lock.acquire(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_the_lock_names_its_holder_and_dies_with_it_even_on_kill_9(tmp_path):
    run_dir = str(tmp_path / "run")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, run_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Tfi2iError, match=f"'{run_dir}' is in use by pid {holder.pid} on .* pass another --run-dir"):
            lock.acquire(run_dir)
    finally:
        holder.kill()  # SIGKILL: no handler runs, the kernel drops the lock
        holder.wait()
    lock.acquire(run_dir)
    lock.acquire(run_dir)  # re-entrant within a process
    lock.release(run_dir)
    assert open(os.path.join(run_dir, lock.LOCK_FILE)).read().startswith(f"pid {os.getpid()} on ")


def test_a_damaged_newest_checkpoint_is_set_aside_and_saved_again(tiny_config, paired_root, tmp_path):
    config = tiny_config("train.n_epochs=2", "train.n_epochs_decay=0")  # 8 steps an epoch, saves at 8 and 16
    run_dir = str(tmp_path / "run")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    assert assemble(config, run_dir, log=lambda _: None).fit().step == 16
    with open(os.path.join(ckpt_dir, "ckpt-16.data-00000-of-00001"), "r+b") as f:
        f.truncate(100)  # what a disk or a copy gone wrong leaves behind

    # Readers take the newest checkpoint that restores, and say so; a named damaged one is refused.
    warnings = []
    _, _, step = restore_model(run_dir, warn=warnings.append)
    assert step == 8 and len(warnings) == 1
    assert re.fullmatch(f"warning: checkpoint '{ckpt_dir}/ckpt-16' could not be read \\(\\w+\\); trying an older one",
                        warnings[0]), warnings
    with pytest.raises(Tfi2iError, match="ckpt-16' could not be read .*: it is damaged; use --checkpoint latest"):
        restore_model(run_dir, checkpoint="16")
    exported = CliRunner().invoke(cli, ["export", run_dir, "--out", str(tmp_path / "models")])
    assert exported.exit_code == 0, exported.output
    assert "ckpt-16' could not be read" in exported.output

    # Training moves it aside, resumes from step 8 and writes step 16 anew.
    lines = []
    trainer = assemble(config, run_dir, log=lines.append)
    assert trainer.step == 8
    assert f"warning: moved 1 damaged checkpoint(s) to '{ckpt_dir}/damaged'" in lines
    assert sorted(os.listdir(os.path.join(ckpt_dir, "damaged"))) == ["ckpt-16.data-00000-of-00001", "ckpt-16.index"]
    assert list(checkpoints.saved_steps(run_dir)) == [8]
    assert trainer.fit().step == 16
    assert list(checkpoints.saved_steps(run_dir)) == [8, 16]
    warnings = []
    assert restore_model(run_dir, warn=warnings.append)[2] == 16 and warnings == []
    translated = CliRunner().invoke(cli, ["translate", "--model", run_dir, os.path.join(paired_root, "test"),
                                          "--out", str(tmp_path / "out")])
    assert translated.exit_code == 0, translated.output
    assert "(step 16," in translated.output
