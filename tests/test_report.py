import html.parser
import json
import os
import time

import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from tests.conftest import TINY
from tfi2i import config as config_lib
from tfi2i.evaluation import scoring as scoring_lib
from tfi2i.inference import evaluate
from tfi2i.cli import cli
from tfi2i.errors import Tfi2iError
from tfi2i.training import report
from tfi2i.training.assembly import assemble


class Sources(html.parser.HTMLParser):
    """Collects the src of every <img>."""

    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_a_finished_run_gets_a_report_whose_images_all_exist(paired_root, tmp_path):
    config = config_lib.load(None, [f"data.root={paired_root}", *TINY, "train.report=true", "train.steps_per_epoch=3",
                                    "train.n_epochs=2", "train.n_epochs_decay=0", "train.log_every_steps=1"])
    run_dir = str(tmp_path / "run")
    lines = []
    assemble(config, run_dir, log=lines.append).fit()
    index = os.path.join(run_dir, "report", "index.html")
    assert f"report: {index}" in lines  # written when training stopped
    page = open(index, encoding="utf-8").read()
    parser = Sources()
    parser.feed(page)
    plots = [src for src in parser.images if not src.startswith("..")]
    grids = [src for src in parser.images if src.startswith("..")]
    assert sorted(plots) == ["discriminator.png", "generator.png", "learning_rate.png", "terms.png"]
    assert grids == ["../samples/epoch_0002.png", "../samples/epoch_0001.png"]  # newest first
    for src in parser.images:
        with Image.open(os.path.join(run_dir, "report", src)) as image:
            image.verify()  # a valid PNG, not just a file
        assert Image.open(os.path.join(run_dir, "report", src)).format == "PNG"
    assert "Logged up to step 6" in page
    assert "ngf: 8" in page  # the resolved config
    assert "Not evaluated yet" in page

    # Evaluation results written beside the run show up in the next report.
    os.makedirs(os.path.join(run_dir, "evaluation"))
    with open(os.path.join(run_dir, "evaluation", "test_a2b_step6.json"), "w") as f:
        json.dump({"split": "test", "direction": "a2b", "step": 6, "images": 2, "metrics": {"l1": 0.25, "psnr": 17.5}}, f)
    result = CliRunner().invoke(cli, ["report", run_dir])
    assert result.exit_code == 0, result.output
    page = open(index, encoding="utf-8").read()
    assert "<td>l1</td><td>0.2500</td>" in page and "<td>psnr</td><td>17.5000</td>" in page


def test_scalars_of_a_resumed_run_replace_the_steps_they_repeat(tmp_path):
    log_dir = str(tmp_path / "logs")
    for values in ({1: 5.0, 2: 4.0, 3: 3.0}, {3: 2.5, 4: 2.0}):  # the second run re-did step 3
        writer = tf.summary.create_file_writer(log_dir)
        with writer.as_default():
            for step, value in values.items():
                tf.summary.scalar("step/g_total", value, step=step)
        writer.close()
        time.sleep(1.1)  # event file names and times differ by the second
    assert report.read_scalars(log_dir) == {"step/g_total": ([1, 2, 3, 4], [5.0, 4.0, 2.5, 2.0])}


def test_report_of_a_folder_that_is_no_run_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: '{tmp_path}' holds no config.yaml, so it is no tfi2i run; " \
                                    "check the run directory's path"


def test_the_metric_pass_logs_each_epochs_scores_of_the_model_then(paired_root, tmp_path):
    config = config_lib.load(None, [f"data.root={paired_root}", *TINY, "train.report=true", "train.steps_per_epoch=2",
                                    "train.n_epochs=2", "train.n_epochs_decay=0", "train.eval_every_epochs=1",
                                    "train.eval_images=2"])
    run_dir = str(tmp_path / "run")
    lines = []
    trainer = assemble(config, run_dir, log=lines.append)
    trainer.fit()
    scalars = report.read_scalars(os.path.join(run_dir, "logs"))
    for metric in ("pixel_accuracy", "l1", "psnr", "ssim"):  # pix2pix on paired data: the paired metrics
        assert scalars[f"eval/{metric}"][0] == [1, 2]
    assert not any(tag.startswith("eval/") and tag[5:] in ("fid", "cycle_l1") for tag in scalars)
    # The last pass scored the final weights on the val split's first two pairs.
    final, _ = evaluate.evaluate_model(run_dir, scoring_lib.Scoring(("l1", "psnr")), split="val")
    assert scalars["eval/l1"][1][-1] == pytest.approx(final["metrics"]["l1"], rel=1e-4)
    assert scalars["eval/psnr"][1][-1] == pytest.approx(final["metrics"]["psnr"], rel=1e-4)
    assert any(line.startswith("epoch 2 eval: pixel_accuracy") for line in lines)
    assert os.path.isfile(os.path.join(run_dir, "report", "metrics.png"))


@pytest.mark.parametrize("overrides, message", [
    (["train.eval_metrics=[l1, sharpness]"], "unknown metric 'sharpness'"),
    (["train.eval_metrics=[cycle_l1]"], "cycle_l1 needs both directions"),
    (["train.eval_metrics=[fid]", "train.eval_images=2", "train.eval_feature_weights=/nowhere.h5"],
     "'/nowhere.h5' does not exist"),
    (["train.eval_metrics=[kid]", "train.eval_feature_weights=WEIGHTS"], "need at least 2"),
])
def test_a_bad_metric_pass_is_refused_before_the_run_starts(paired_root, tmp_path, overrides, message):
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")
    overrides = [o.replace("WEIGHTS", str(weights)) for o in overrides]
    config = config_lib.load(None, [f"data.root={paired_root}", *TINY, "train.eval_every_epochs=1", "train.eval_images=1",
                                    *overrides])
    with pytest.raises(Tfi2iError, match=message):
        assemble(config, str(tmp_path / "run"), log=lambda _: None)
    assert not os.path.exists(tmp_path / "run" / "config.yaml")
