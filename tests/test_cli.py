import os
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
import yaml
from click.testing import CliRunner
from PIL import Image

from tests.conftest import TINY
from tfi2i.cli import cli

TFI2I = os.path.join(os.path.dirname(sys.executable), "tfi2i")
QUICKSTART = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "quickstart.yaml")


def test_data_synth_writes_both_layouts(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "synth", "--kind", "paired", "--out", str(tmp_path / "p"), "--count", "8", "--size", "32"])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "p")) == ["test", "train", "val"]
    pair = Image.open(tmp_path / "p" / "train" / "00000.png")
    assert pair.size == (64, 32)
    a, b = np.asarray(pair)[:, :32], np.asarray(pair)[:, 32:]
    assert not np.array_equal(a, b) and (a.sum(-1) == 0).any()  # label map on black, painted B

    result = runner.invoke(cli, ["data", "synth", "--kind", "unpaired", "--out", str(tmp_path / "u"), "--count", "8"])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "u")) == ["testA", "testA_truth", "testB", "trainA", "trainB"]
    assert len(os.listdir(tmp_path / "u" / "trainA")) == 8


def test_plugins_lists_group_name_distribution():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[0] == ["group", "name", "distribution", "target"]
    assert ["tfi2i.models", "pix2pix", "tfi2i", "tfi2i.models.pix2pix:Pix2Pix"] in rows


def tiny_args(root, run_dir):
    sets = [f"data.root={root}", *TINY]
    return ["train", "--config", QUICKSTART, "--run-dir", str(run_dir),
            *[arg for s in sets for arg in ("--set", s)]]


def test_train_writes_a_complete_run_dir_and_reruns_resume(paired_root, tmp_path):
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(cli, tiny_args(paired_root, run_dir))
    assert result.exit_code == 0, result.output
    assert "done: step 16, epoch 2" in result.output
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["train"]["batch_size"] == 2 and resolved["data"]["crop_size"] == 32
    assert resolved["optimizer"] == {"lr": 2e-4, "beta_1": 0.5, "beta_2": 0.999, "epsilon": 1e-8, "epsilon_form": "paper"}
    assert os.path.exists(run_dir / "checkpoints" / "ckpt-16.index")
    grids = sorted(os.listdir(run_dir / "samples"))
    assert grids == ["epoch_0001.png", "epoch_0002.png"]
    # 2 samples x (A | G(A) | B), 32 pixels each with 2 pixel gaps.
    assert Image.open(run_dir / "samples" / grids[-1]).size == (3 * 32 + 4, 2 * 32 + 2)
    tags = set()
    for name in os.listdir(run_dir / "logs"):
        for event in tf.compat.v1.train.summary_iterator(str(run_dir / "logs" / name)):
            tags |= {value.tag for value in event.summary.value}
    assert {"step/l1", "epoch/g_total", "epoch/d_total", "lr/generator", "lr/discriminator", "samples"} <= tags

    again = CliRunner().invoke(cli, tiny_args(paired_root, run_dir))
    assert again.exit_code == 0 and "is complete (2 epochs)" in again.output
    longer = CliRunner().invoke(cli, ["train", "--resume", str(run_dir), "--set", "train.n_epochs=2"])
    assert longer.exit_code == 0, longer.output
    assert "resuming from" in longer.output and "done: step 24, epoch 3" in longer.output


def test_undecodable_image_fails_in_one_line_naming_it(tmp_path):
    os.makedirs(tmp_path / "data" / "train")
    Image.new("RGB", (64, 32)).save(tmp_path / "data" / "train" / "good.png")
    (tmp_path / "data" / "train" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = CliRunner().invoke(cli, tiny_args(tmp_path / "data", tmp_path / "run"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"error: '{tmp_path / 'data' / 'train' / 'bad.png'}'")


def test_sigterm_saves_a_checkpoint_and_the_run_resumes(paired_root, tmp_path):
    run_dir = tmp_path / "run"
    args = tiny_args(paired_root, run_dir) + ["--set", "train.n_epochs=1000"]
    process = subprocess.Popen([TFI2I, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(run_dir / "checkpoints" / "checkpoint"):  # the first epoch is done
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "stopped by SIGTERM" in err and f"tfi2i train --resume {run_dir}" in err
    step = int(err.split("stopped by SIGTERM at step ")[1].split(";")[0])
    assert os.path.exists(run_dir / "checkpoints" / f"ckpt-{step}.index")

    # Shorten the schedule to end one epoch after the stop (8 steps an epoch, 1 decay epoch).
    epochs = step // 8 + 1
    resumed = CliRunner().invoke(cli, ["train", "--resume", str(run_dir), "--set", f"train.n_epochs={epochs}"])
    assert resumed.exit_code == 0, resumed.output
    assert f"(step {step}," in resumed.output
    assert f"done: step {(epochs + 1) * 8}, epoch {epochs + 1}" in resumed.output


def test_export_writes_a_version_and_names_bad_arguments_in_one_line(paired_root, tmp_path):
    run_dir, base = tmp_path / "run", tmp_path / "models"
    assert CliRunner().invoke(cli, tiny_args(paired_root, run_dir)).exit_code == 0
    result = subprocess.run([TFI2I, "export", str(run_dir), "--out", str(base)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"exported a2b to {base / 'run_a2b' / '1'}"
    assert (base / "run_a2b" / "1" / "saved_model.pb").is_file()
    for args, message in [
        (["--checkpoint", "99"], "has no checkpoint of step 99; use --checkpoint latest or one of 8, 16"),
        (["--direction", "b2a"], "translates only a2b, not b2a"),
        (["--version", "1"], "exists already; leave out --version"),
    ]:
        result = subprocess.run([TFI2I, "export", str(run_dir), "--out", str(base), *args], capture_output=True,
                                text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: ") and message in result.stderr
