import json
import os
import subprocess
import sys

import pytest

from tests.conftest import TINY, TINY_CUT, TINY_CYCLEGAN, TINY_UNIT
from tfi2i.runtime import strategies
from tfi2i.errors import Tfi2iError

SCRIPT = os.path.join(os.path.dirname(__file__), "mirrored_step.py")
MODELS = {
    # Dropout masks come from one seed state per replica, so they differ from one device's.
    "pix2pix": ("paired_root", ["model.generator.params.dropout=false"]),
    "cyclegan": ("unpaired_root", TINY_CYCLEGAN),
    "unit": ("unpaired_root", TINY_UNIT),
    # PatchNCE's heads are G's variables; each replica draws the same patch locations.
    "cut": ("unpaired_root", TINY_CUT),
    # WGAN's clip (a constraint the optimizer applies) and two D updates a step, on 2 replicas.
    "pix2pix_wgan": ("paired_root", ["model.generator.params.dropout=false",
                                     "model.gan_loss={name: wgan, params: {clip: 0.01}}", "model.n_critic=2"]),
}


@pytest.fixture(scope="module")
def mirrored_lines(request, tmp_path_factory):
    """{model: its line from tests/mirrored_step.py}, every case run in one process."""
    base = tmp_path_factory.mktemp("mirrored")
    cases = [[name, request.getfixturevalue(root_fixture), str(base / "run") if name == "pix2pix" else "-",
              [*TINY, *overrides, "train.report=false"]] for name, (root_fixture, overrides) in MODELS.items()]
    (base / "cases.json").write_text(json.dumps(cases))
    result = subprocess.run([sys.executable, SCRIPT, str(base / "cases.json")], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = (line.partition(": ") for line in result.stdout.splitlines())
    return {name: rest for name, _, rest in lines if name in MODELS}


@pytest.mark.parametrize("name", list(MODELS))
def test_a_mirrored_step_on_two_devices_equals_one_device(mirrored_lines, name):
    """One step with global batch 2 split over 2 logical CPUs gives the single-device step's
    weights; (pix2pix) the trainer trains on 2 replicas, saves one checkpoint per save, resumes."""
    assert mirrored_lines[name].startswith("ok:"), mirrored_lines[name].replace(" | ", "\n")


def test_devices_that_do_not_exist_are_named():
    with pytest.raises(Tfi2iError, match=r"train.devices names '/gpu:7', which this machine does not have; pick from "
                                         r"/cpu:0"):
        strategies.build_strategy("mirrored", ["/gpu:7"])
    with pytest.raises(Tfi2iError, match="set distribute: mirrored or drop it"):
        strategies.build_strategy("none", ["/cpu:0"])
    assert strategies.build_strategy("mirrored", ["/cpu:0"]) is strategies.build_strategy("mirrored", ["CPU:0"])
