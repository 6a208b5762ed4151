"""The README's "Writing a loss plugin" example, built and pip-installed as a user would."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import TINY, TINY_CYCLEGAN

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
TFI2I = os.path.join(os.path.dirname(sys.executable), "tfi2i")
CYCLEGAN = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "cyclegan_synthetic.yaml")


def readme_plugin_files():
    """{file name: content} of every "`name`:" code block in the README's plugin section."""
    text = open(README, encoding="utf-8").read()
    section = text.split("## Writing a loss plugin", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^`([\w.]+)`:\n\n```\w*\n(.*?)^```", section, flags=re.S | re.M))


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def installed_readme_plugin(tmp_path):
    files = readme_plugin_files()
    assert set(files) == {"pyproject.toml", "setup.cfg", "tfi2i_tv.py"}
    package = tmp_path / "tfi2i-tv"
    package.mkdir()
    for name, content in files.items():
        (package / name).write_text(content)
    # Local path, no network: no dependency resolution and the venv's own setuptools.
    result = pip("install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation", str(package))
    assert result.returncode == 0, result.stderr
    try:
        yield
    finally:
        pip("uninstall", "--yes", "tfi2i-tv")


def test_readme_plugin_installs_with_pip_and_trains_a_cyclegan(installed_readme_plugin, unpaired_root, tmp_path):
    listed = subprocess.run([TFI2I, "plugins"], capture_output=True, text=True, timeout=120)
    assert re.search(r"tfi2i\.losses\s+tv\s+tfi2i-tv\s+tfi2i_tv:TotalVariationLoss", listed.stdout), listed.stdout

    sets = [f"data.root={unpaired_root}", *TINY, *TINY_CYCLEGAN, "train.steps_per_epoch=2",
            "train.n_epochs=1", "train.n_epochs_decay=0",
            "losses=[{name: cycle_l1, weight: 10}, {name: tv, weight: 5, params: {scale: 2.0}}]"]
    run = subprocess.run([TFI2I, "train", "--config", CYCLEGAN, "--run-dir", str(tmp_path / "run"), *[a for s in sets for a in ("--set", s)]],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    # Keras prints the epoch's logs: the plugin's term for each direction is among them.
    assert re.search(r"tv_a2b: \d", run.stdout) and re.search(r"tv_b2a: \d", run.stdout), run.stdout
    assert os.path.exists(tmp_path / "run" / "checkpoints" / "ckpt-2.index")


def test_uninstalled_plugin_is_gone(tmp_path):
    # Runs after the test above in file order: its fixture must have removed the distribution.
    assert "tfi2i-tv" not in pip("list", "--format=freeze").stdout.lower().replace("_", "-")
