"""The run report: RUN_DIR/report/index.html, a static page (no server) with the loss curves
as PNG plots, the sample grids per epoch, the resolved config and the evaluation results.

Curves come from the run's TensorBoard event files (logs/), so a report can be made for any
run, finished or not, and a resumed run's re-done steps replace the ones they repeat.
"""

import collections
import glob
import html
import json
import os

import tensorflow as tf
from tensorflow.core.util import event_pb2

from tfi2i.evaluation import scoring
from tfi2i.run import directory as run_directory

REPORT_DIR = "report"

# Plots, each of the step scalars whose name matches; the rest go to "other terms".
PLOTS = (
    ("generator", "Generator: GAN terms and total", lambda n: n.startswith("g_")),
    ("discriminator", "Discriminator", lambda n: n.startswith("d_")),
    ("learning_rate", "Learning rates", lambda n: n.startswith("lr/")),
)


def read_scalars(log_dir):
    """{tag: (steps, values)} from every event file under `log_dir`, later files winning."""
    series = collections.defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True),
                       key=lambda p: (os.path.getmtime(p), p)):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("tensor") and value.tensor.dtype == tf.float32.as_datatype_enum:
                    series[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
                elif value.HasField("simple_value"):
                    series[value.tag][event.step] = value.simple_value
    return {tag: (sorted(points), [points[s] for s in sorted(points)]) for tag, points in series.items()}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    return pyplot


def _plot(path, title, curves, xlabel):
    """All curves on one axis (losses, which share a scale)."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(7, 3.6), dpi=100)
    for name, (steps, values) in sorted(curves.items()):
        axes.plot(steps, values, label=name, marker="o" if len(steps) < 12 else None, linewidth=1.2)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.grid(alpha=0.3)
    if all(v > 0 for _, values in curves.values() for v in values):
        spread = max(max(v) for _, v in curves.values()) / max(min(min(v) for _, v in curves.values()), 1e-12)
        if spread > 100:
            axes.set_yscale("log")
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _plot_each(path, title, curves, xlabel):
    """One small axis per curve (metrics, whose scales differ); kid gets its +- kid_std band."""
    from matplotlib.ticker import MaxNLocator

    pyplot = _pyplot()
    names = [n for n in sorted(curves) if n != "kid_std"]
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    figure, grid = pyplot.subplots(rows, columns, figsize=(3 * columns, 2.4 * rows), dpi=100, squeeze=False)
    for axes, name in zip(grid.flat, names):
        steps, values = curves[name]
        axes.plot(steps, values, marker="o" if len(steps) < 12 else None, linewidth=1.2)
        if name == "kid" and "kid_std" in curves:
            spread = dict(zip(*curves["kid_std"]))
            low = [v - spread.get(s, 0.0) for s, v in zip(steps, values)]
            high = [v + spread.get(s, 0.0) for s, v in zip(steps, values)]
            axes.fill_between(steps, low, high, alpha=0.2)
        axes.set_title(name, fontsize=10)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    for axes in list(grid.flat)[len(names):]:
        axes.axis("off")
    for axes in grid[-1]:
        axes.set_xlabel(xlabel)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _loss_curves(scalars):
    """{name: (steps, values)} of every loss: its every-N-steps series, or its per-epoch means
    where those are more (a run shorter than train.log_every_steps)."""
    curves = {}
    for prefix in ("epoch/", "step/"):
        for tag, series in scalars.items():
            name = tag.removeprefix(prefix)
            if tag.startswith(prefix) and not name.startswith("val_") and len(series[0]) >= len(curves.get(name, ((),))[0]):
                curves[name] = series
    curves.update({tag: s for tag, s in scalars.items() if tag.startswith("lr/")})
    return curves


def _plots(scalars, out_dir):
    """Writes the plot PNGs; returns [(file name, title)]."""
    per_step = _loss_curves(scalars)
    per_epoch = {tag.removeprefix("eval/"): s for tag, s in scalars.items() if tag.startswith("eval/")}
    validation = {tag.removeprefix("epoch/"): s for tag, s in scalars.items() if tag.startswith("epoch/val_")}
    made, taken = [], set()
    for name, title, matches in PLOTS:
        curves = {n: s for n, s in per_step.items() if matches(n)}
        taken |= set(curves)
        if curves:
            _plot(os.path.join(out_dir, f"{name}.png"), title, curves, "step")
            made.append((f"{name}.png", title))
    others = {n: s for n, s in per_step.items() if n not in taken}
    if others:
        _plot(os.path.join(out_dir, "terms.png"), "Other loss terms (L1, cycle, identity, KL, ...)", others, "step")
        made.append(("terms.png", "Other loss terms"))
    if validation:
        _plot(os.path.join(out_dir, "validation.png"), "Validation losses", validation, "step")
        made.append(("validation.png", "Validation losses"))
    if per_epoch:
        _plot_each(os.path.join(out_dir, "metrics.png"), "Metric pass on held-out images (train.eval_every_epochs)",
                   per_epoch, "epoch")
        made.append(("metrics.png", "Metrics per epoch"))
    return made


def _evaluations(run_dir):
    records = []
    for path in sorted(glob.glob(os.path.join(run_dir, "evaluation", "*.json"))):
        with open(path, encoding="utf-8") as f:
            records.append((os.path.basename(path), json.load(f)))
    return records


def _metrics_table(name, record):
    rows = "".join(
        f"<tr><td>{html.escape(metric)}</td><td>{value:.4f}</td></tr>" for metric, value in record["metrics"].items()
    )
    what = f"{record.get('split', '')} split, {record.get('direction', '')}, step {record.get('step', '?')}"
    protocol = record.get("protocol")
    # How the feature metrics were computed, under the table: what comparing them needs.
    under = f"<p><small>{html.escape(scoring.format_protocol(protocol))}</small></p>" if protocol else ""
    return f"<h3>{html.escape(name)}</h3><p>{html.escape(what)}, {record.get('images', '?')} images</p>" \
           f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>{under}"


def write(run_dir):
    """Writes RUN_DIR/report/ (index.html and the plots) and returns the index path."""
    out_dir = os.path.join(run_dir, REPORT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    scalars = read_scalars(os.path.join(run_dir, "logs"))
    plots = _plots(scalars, out_dir)
    samples = sorted(glob.glob(os.path.join(run_dir, "samples", "epoch_*.png")))
    config_path = run_directory.config_path(run_dir)
    config_text = open(config_path, encoding="utf-8").read() if os.path.isfile(config_path) else "(no config.yaml)"
    last_step = max((steps[-1] for steps, _ in scalars.values()), default=0)

    parts = [
        f"<h1>{html.escape(os.path.basename(os.path.abspath(run_dir)))}</h1>",
        f"<p>Logged up to step {last_step}. Made by <code>tfi2i report</code>.</p>",
        "<h2>Loss curves</h2>",
        "".join(f'<figure><img src="{name}" alt="{html.escape(title)}"></figure>' for name, title in plots)
        or "<p>No scalars logged yet.</p>",
        "<h2>Evaluation</h2>",
        "".join(_metrics_table(name, record) for name, record in _evaluations(run_dir))
        or "<p>Not evaluated yet: <code>tfi2i evaluate --model RUN_DIR</code>.</p>",
        "<h2>Samples</h2>",
        "".join(
            f'<figure><figcaption>{html.escape(os.path.basename(p))}</figcaption>'
            f'<img src="{html.escape(os.path.relpath(p, out_dir))}" alt="samples"></figure>'
            for p in reversed(samples)
        ) or "<p>No sample grids yet.</p>",
        "<h2>Config</h2>",
        f"<pre>{html.escape(config_text)}</pre>",
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tfi2i report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "img{max-width:100%;image-rendering:pixelated}figure{margin:1em 0}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body>"
        + "\n".join(parts) + "</body></html>\n"
    )
    index = os.path.join(out_dir, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write(page)
    return index

