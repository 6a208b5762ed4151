"""The `tfi2i` command line."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import click  # noqa: E402

from tfi2i import __version__  # noqa: E402
from tfi2i.errors import Tfi2iError  # noqa: E402

MAX_PIXELS = 4096 * 4096  # serving.DEFAULT_MAX_PIXELS, spelled out: importing serving loads TensorFlow


class _Group(click.Group):
    """Prints a Tfi2iError as one line and exits with code 2, no traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Tfi2iError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tfi2i")
def cli():
    """tfi2i: image-to-image translation (pix2pix, CycleGAN, UNIT) for TensorFlow 2 / Keras 3."""


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
    from tfi2i.training import run_dir as run_dir_lib

    if resume_dir:
        if config_file:
            raise Tfi2iError("--resume uses the run's own config.yaml; drop --config (adjust with --set)")
        config = run_dir_lib.saved_config(resume_dir, overrides)
        run_dir = resume_dir
    elif config_file:
        config = config_lib.load(config_file, overrides)
        run_dir = run_dir or os.path.join("runs", os.path.splitext(os.path.basename(config_file))[0])
    else:
        raise Tfi2iError("give --config FILE for a new run or --resume RUN_DIR to continue one")

    from tfi2i.training.trainer import train as run_training

    result = run_training(config, run_dir, log=lambda line: click.echo(line, err=True))
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
              help="Model base folder; the export goes to OUT/<name>/<version>/ (TF Serving's layout).")
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), default="a2b", show_default=True)
@click.option("--version", type=click.IntRange(min=1), help="Version folder [default: the next free one].")
@click.option("--checkpoint", default="latest", show_default=True, help="'latest' or a checkpoint's step.")
@click.option("--name", help="Model name [default: <run dir name>_<direction>].")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Larger input images are refused before decoding.")
def export_command(run_dir, base, direction, version, checkpoint, name, max_pixels):
    """Export one direction of a trained run as a SavedModel that TF Serving loads."""
    from tfi2i import export

    if checkpoint != "latest" and not checkpoint.isdigit():
        raise Tfi2iError(f"--checkpoint must be 'latest' or a step number, got '{checkpoint}'")
    path = export.export(run_dir, base, direction, version, checkpoint, name, max_pixels)
    click.echo(f"exported {direction} to {path}")


@cli.command("translate")
@click.option("--model", "model_path", type=click.Path(file_okay=False), required=True,
              help="An export (version folder or model folder) or a training run directory.")
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
def translate_command(model_path, inputs, out_dir, direction, checkpoint, batch_size, max_pixels):
    """Translate image files or folders (INPUTS) with an exported or trained model."""
    from tfi2i import translate_files, translators

    if checkpoint != "latest" and not checkpoint.isdigit():
        raise Tfi2iError(f"--checkpoint must be 'latest' or a step number, got '{checkpoint}'")
    jobs = translate_files.plan(inputs, out_dir)
    translator = translators.load(model_path, direction, checkpoint)
    click.echo(f"translating {len(jobs)} images {translator.direction} with {translator.source}", err=True)
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


@cli.command()
def plugins():
    """List every registered entry: group, name, providing distribution."""
    from tfi2i import registry

    rows = [(e.group, e.name, e.distribution, e.target) for e in registry.entries()]
    widths = [max(len(r[i]) for r in rows + [("group", "name", "distribution", "target")]) for i in range(4)]
    for row in [("group", "name", "distribution", "target"), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def main():
    try:
        cli()
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
