"""The `tfi2i` command line."""

import os
import sys

USER_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")  # the user's own setting is kept
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import click  # noqa: E402

from tfi2i import __version__  # noqa: E402
from tfi2i.errors import Tfi2iError, user_error  # noqa: E402
from tfi2i.runtime import native_logs  # noqa: E402

MAX_PIXELS = 4096 * 4096  # images.DEFAULT_MAX_PIXELS, spelled out: importing it loads TensorFlow


MODE_OPTION = click.option(
    "--mode", type=click.Choice(["eval", "train"]),
    help="For a run: how the generator runs [default: the run's inference.mode]. eval: dropout off, moving "
         "statistics; train: dropout on, each image's own statistics (the reference's default test).")
NUM_TEST_OPTION = click.option("--num-test", type=click.IntRange(min=1),
                               help="Only the first N images (the reference's --num_test) [default: all].")


def check_checkpoint(checkpoint):
    """--checkpoint takes 'latest' or a step number."""
    if checkpoint != "latest" and not checkpoint.isdigit():
        raise Tfi2iError(f"--checkpoint must be 'latest' or a step number, got '{checkpoint}'")


class _Group(click.Group):
    """Prints a Tfi2iError as one line and exits with code 2, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # click's own ending (an inner group's error: already printed)
        except Exception as error:
            found = user_error(error)
            if found is None:
                raise
            click.echo(f"error: {found}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tfi2i")
@click.option("--verbose", is_flag=True,
              help="Keep TensorFlow's own log lines (its C++ start-up lines, grappler) on stderr.")
def cli(verbose):
    """tfi2i: image-to-image translation (pix2pix, CycleGAN, UNIT, CUT) for TensorFlow 2 / Keras 3."""
    # main() acts on --verbose: the log filter and level must be set before TensorFlow loads,
    # and only for the command line (never in a process that calls `cli` as a library).


def asks_for_verbose(argv):
    """Whether --verbose comes before the command's name in `argv` (the arguments)."""
    for arg in argv:
        if arg == "--verbose":
            return True
        if not arg.startswith("-"):
            return False
    return False


@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.batch_size=4 (repeatable).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the run lives [default: runs/<config name>]. An existing run there is continued.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False),
              help="Continue the run in this directory with the config it was started with.")
def train(config_file, overrides, run_dir, resume_dir):
    """Train a model; continue a stopped run from its latest checkpoint."""
    from tfi2i import config as config_lib
    from tfi2i.run import directory as run_directory

    if resume_dir:
        if config_file:
            raise Tfi2iError("--resume uses the run's own config.yaml; drop --config (adjust with --set)")
        config = run_directory.saved_config(resume_dir, overrides)
        run_dir = resume_dir
    elif config_file:
        config = config_lib.load(config_file, overrides)
        run_dir = run_dir or os.path.join("runs", os.path.splitext(os.path.basename(config_file))[0])
    else:
        raise Tfi2iError("give --config FILE for a new run or --resume RUN_DIR to continue one")

    from tfi2i.training.assembly import assemble
    from tfi2i.training.callbacks import StartupLog

    # What assembly says (kernels, resume point) is held until the first step has trained, so a
    # run that fails to start (bad data, a crop the network cannot take, a failing loss
    # plugin) prints its one error line alone.
    startup = StartupLog(lambda line: click.echo(line, err=True))
    result = assemble(config, run_dir, log=startup).fit(extra_callbacks=[startup])
    startup.release()
    if result.interrupted_by:
        click.echo(
            f"stopped by {result.interrupted_by} at step {result.step}; checkpoint saved. "
            f"Continue with: tfi2i train --resume {run_dir}",
            err=True,
        )
        sys.exit(130 if result.interrupted_by == "SIGINT" else 143)
    click.echo(f"done: step {result.step}, epoch {result.epoch}; run directory {run_dir}")


@cli.group(cls=_Group)
def data():
    """Dataset tools."""


@data.command()
@click.option("--kind", type=click.Choice(["paired", "unpaired"]), required=True,
              help="paired: aligned A|B images; unpaired: trainA/trainB folders.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--count", default=64, show_default=True, help="Training images (val/test get count/8).")
@click.option("--size", default=64, show_default=True, help="Image height and width.")
@click.option("--seed", default=0, show_default=True)
def synth(kind, out, count, size, seed):
    """Write the synthetic dataset (shapes rendered two ways) in a real dataset layout."""
    from tfi2i.data import synthetic

    if count < 1 or size < 16:
        raise Tfi2iError("--count must be at least 1 and --size at least 16")
    synthetic.write(kind, out, count=count, size=size, seed=seed)
    click.echo(f"wrote {kind} synthetic dataset to {out}")


@cli.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", "base", type=click.Path(file_okay=False), required=True,
              help="Model base folder; a SavedModel goes to OUT/<name>/<version>/ (TF Serving's layout), "
                   "an onnx or tflite file to OUT/<name>.<format>.")
@click.option("--format", "fmt", type=click.Choice(["savedmodel", "onnx", "tflite"]), default="savedmodel",
              show_default=True, help="onnx: for ONNX Runtime (any size); tflite: for LiteRT (one --size).")
@click.option("--size", help="tflite: the HEIGHTxWIDTH of the images it takes, e.g. 256x256.")
@click.option("--quantize", type=click.Choice(["float16", "dynamic-int8"]),
              help="tflite: store the weights as float16, or as int8 (dynamic-range) [default: float32].")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), default="a2b", show_default=True)
@click.option("--version", type=click.IntRange(min=1), help="Version folder [default: the next free one].")
@click.option("--checkpoint", default="latest", show_default=True, help="'latest' or a checkpoint's step.")
@click.option("--name", help="Model name [default: <run dir name>_<direction>].")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Larger input images are refused before decoding.")
@click.option("--kernels", type=click.Choice(["keras", "tuned"]), default="keras", show_default=True,
              help="Layers the graph is built of: stock Keras, or the CPU-tuned ones (for serving on CPUs).")
@MODE_OPTION
def export_command(run_dir, base, fmt, size, quantize, direction, version, checkpoint, name, max_pixels, kernels,
                   mode):
    """Export one direction of a trained run: a SavedModel that TF Serving loads, or an ONNX or
    LiteRT file."""
    check_checkpoint(checkpoint)
    if fmt == "savedmodel":
        if size or quantize:
            raise Tfi2iError("--size and --quantize are for --format tflite; drop them")
        from tfi2i.inference import export

        path = export.export(run_dir, base, direction, version, checkpoint, name, max_pixels, kernels, mode)
    else:
        if version or kernels != "keras" or max_pixels != MAX_PIXELS:
            raise Tfi2iError(f"--version, --kernels and --max-pixels are for --format savedmodel; drop them for {fmt}")
        from tfi2i.inference import edge_export

        path = edge_export.export_file(run_dir, base, fmt, direction, checkpoint, name, mode, size, quantize)
    click.echo(f"exported {direction} to {path}")


@cli.command("translate")
@click.option("--model", "model_path", type=click.Path(), required=True,
              help="An export (version folder, model folder, .onnx or .tflite file) or a training run directory.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output folder; input sub-folders are mirrored, names kept with a .png suffix.")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]),
              help="For a run: the direction to translate [default: a2b]. An export has its own.")
@click.option("--checkpoint", default="latest", show_default=True, help="For a run: 'latest' or a step.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Images of one size translated together.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Larger input images are skipped before decoding.")
@MODE_OPTION
@NUM_TEST_OPTION
def translate_command(model_path, inputs, out_dir, direction, checkpoint, batch_size, max_pixels, mode, num_test):
    """Translate image files or folders (INPUTS) with an exported or trained model."""
    from tfi2i.inference import translate_files, translators

    check_checkpoint(checkpoint)
    jobs = translate_files.plan(inputs, out_dir)[:num_test]
    translator = translators.load(model_path, direction, checkpoint, mode)
    click.echo(f"translating {len(jobs)} images {translator.direction} with {translator.source} "
               f"(step {translator.step}, {translator.mode} mode)", err=True)
    with click.progressbar(length=len(jobs), label="translating", file=sys.stderr) as bar:
        outcome = translate_files.translate(
            translator, jobs, batch_size, max_pixels, on_done=bar.update,
            warn=lambda line: click.echo(f"\n{line}", err=True))
    if outcome.skipped:
        raise Tfi2iError(
            f"{len(outcome.skipped)} of {len(jobs)} inputs were skipped (see the warnings above); "
            f"the other {outcome.written} are in {out_dir}"
        )
    click.echo(f"wrote {outcome.written} images to {out_dir}")


@cli.command("evaluate")
@click.option("--model", "model_path", type=click.Path(),
              help="An export (folder, .onnx or .tflite file) or a training run directory whose translations are "
                   "scored.")
@click.option("--data", "data_root", type=click.Path(file_okay=False),
              help="Dataset root [default for a run: its own data].")
@click.option("--split", default="test", show_default=True)
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), help="For a run [default: a2b].")
@click.option("--checkpoint", default="latest", show_default=True, help="For a run: 'latest' or a step.")
@click.option("--real", "real_dir", type=click.Path(file_okay=False), help="Score two folders: the real images...")
@click.option("--fake", "fake_dir", type=click.Path(file_okay=False), help="...and the translated ones.")
@click.option("--metrics", help="Comma-separated, from: fid, kid, precision, recall, inception_score, "
                                "pixel_accuracy, l1, psnr, ssim, cycle_l1 [default: every one the data, model and "
                                "features allow].")
@click.option("--features", "extractor_name", default="inception_v3", show_default=True,
              help="Feature extractor (entry point group tfi2i.feature_extractors); inception_2015 is the one "
                   "published FID / KID / IS use.")
@click.option("--inception-weights", "weights", type=click.Path(dir_okay=False),
              help="Weights file of the feature extractor (inception_2015: classify_image_graph_def.pb) "
                   "[default for inception_v3: the Keras cache].")
@click.option("--resize", help="How images reach 299x299: inception_2015 legacy_tensorflow (the graph's own, as "
                               "TTUR) or clean (PIL bicubic in float, as clean-fid); inception_v3 bilinear or clean "
                               "[default: the first].")
@click.option("--real-stats", type=click.Path(dir_okay=False),
              help="FID against these statistics (.npz of mu, sigma, as pytorch-fid and clean-fid write) instead "
                   "of real images; with --fake, no --real is needed.")
@click.option("--save-stats", type=click.Path(dir_okay=False), help="Write the real images' FID statistics here.")
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--kid-subsets", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--is-splits", type=click.IntRange(min=1), default=10, show_default=True,
              help="Inception Score: parts the translations are scored in.")
@click.option("--k", "k", type=click.IntRange(min=1), default=3, show_default=True,
              help="Neighbourhood size of precision / recall.")
@click.option("--pixel-threshold", type=click.IntRange(min=0), default=16, show_default=True,
              help="Pixel accuracy: largest colour difference (0-255) that counts as correct.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Larger images are refused before decoding.")
@click.option("--out", "json_path", type=click.Path(dir_okay=False),
              help="JSON file [default: RUN_DIR/evaluation/ or beside the export's versions].")
@MODE_OPTION
@NUM_TEST_OPTION
def evaluate_command(model_path, data_root, split, direction, checkpoint, real_dir, fake_dir, metrics,
                     extractor_name, weights, resize, real_stats, save_stats, kid_subset_size, kid_subsets, is_splits,
                     k, pixel_threshold, batch_size, max_pixels, json_path, mode, num_test):
    """Score a model's translations of a dataset split, or a folder of translations (--fake, against
    --real and / or --real-stats)."""
    from tfi2i.evaluation import scoring as scoring_lib
    from tfi2i.inference import evaluate

    folders_given = real_dir is not None or fake_dir is not None
    if folders_given == (model_path is not None) or (folders_given and not (fake_dir and (real_dir or real_stats))):
        raise Tfi2iError("give either --model (with --data) or --fake with --real (or --real-stats)")
    if folders_given and (mode or num_test):
        raise Tfi2iError("--mode and --num-test choose how --model translates; drop them when scoring two folders")
    if save_stats and folders_given and not real_dir:
        raise Tfi2iError("--save-stats writes the real images' statistics; give them with --real")
    if real_stats and not os.path.isfile(real_stats):
        raise Tfi2iError(f"--real-stats '{real_stats}' does not exist; write one with --save-stats")
    check_checkpoint(checkpoint)
    names = scoring_lib.check_metrics([m.strip() for m in metrics.split(",") if m.strip()] if metrics else None)
    scoring = scoring_lib.Scoring(
        names, kid_subset_size=kid_subset_size, kid_subsets=kid_subsets, k=k, is_splits=is_splits, resize=resize,
        real_stats=real_stats, save_stats=save_stats, pixel_threshold=pixel_threshold, batch_size=batch_size,
        max_pixels=max_pixels)

    def progress(label, length):
        return click.progressbar(length=length, label=label, file=sys.stderr)

    features = {"extractor_name": extractor_name, "weights": weights}
    if model_path:
        record, default_path = evaluate.evaluate_model(
            model_path, scoring, data_root, direction, split, checkpoint, progress, **features, mode=mode,
            num_test=num_test)
    else:
        record, default_path = evaluate.evaluate_folders(real_dir, fake_dir, scoring, progress, **features), None
    click.echo(scoring_lib.format_table(record["metrics"]))
    if record["protocol"]:
        click.echo(scoring_lib.format_protocol(record["protocol"]))
    if save_stats:
        click.echo(f"real image statistics written to {save_stats}", err=True)
    if json_path or default_path:
        evaluate.write_json(json_path or default_path, record)
        click.echo(f"written to {json_path or default_path}", err=True)


@cli.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
def report_command(run_dir):
    """Write RUN_DIR/report/index.html: loss curves, sample grids, config, evaluation results."""
    from tfi2i.run import directory as run_directory, lock as run_lock
    from tfi2i.training import report

    run_directory.check_is_run(run_dir)
    with run_lock.holding(run_dir):  # a training run writes its own report when it ends
        click.echo(f"wrote {report.write(run_dir)}")


@cli.command()
def plugins():
    """List every registered entry: group, name, providing distribution."""
    from tfi2i import registry

    rows = [(e.group, e.name, e.distribution, e.target) for e in registry.entries()]
    widths = [max(len(r[i]) for r in rows + [("group", "name", "distribution", "target")]) for i in range(4)]
    for row in [("group", "name", "distribution", "target"), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def main():
    # Before TensorFlow is first imported.
    if asks_for_verbose(sys.argv[1:]):
        if USER_LOG_LEVEL is None:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]  # TensorFlow's own default: every line
    else:
        native_logs.filter_stderr()
    try:
        cli()
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
