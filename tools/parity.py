"""Does tfi2i learn as well as the reference? Both trained side by side on CMP facades.

For each seed, trains tfi2i (`tfi2i train`, in a subprocess, from the project's config) and
tools/reference_torch.py (an independent PyTorch implementation of the reference semantics)
on the same files with the same budget, architecture, losses and preprocessing, then
translates the same held-out images with both and scores them with the same code. Prints a
row per seed and side, the mean and standard deviation (n - 1) over seeds, and tfi2i's mean
over the reference's with Welch's t and that ratio's 90% confidence interval.

Tasks (the facades archive: A the photo, B the label map):
  photo2labels  pix2pix A -> B: pixel accuracy and mean IoU after mapping each output pixel
                to the nearest of the label palette's colours (found by k-means on the
                training label maps), against the true map's classes
  labels2photo  pix2pix B -> A: L1 (on [-1, 1]), PSNR and SSIM to the true photo
  cyclegan      CycleGAN, unpaired: photos of the first half of train/ against label maps of
                the second half; scored on val/'s true pairs in both directions

Beside the runs it prints two scores of no translation at all, for scale: the most common class
painted everywhere, and the mean training photo given for every input.

    .venv/bin/python tools/parity.py --task photo2labels --seeds 0 1 2 --steps 1000
        [--size 128] [--norm batch|instance] [--test-modes eval train]
        [--set KEY=VALUE ...]      # tfi2i config overrides, to toggle one difference
        [--sides tfi2i reference]  # one side only
        [--score-at 1000 2000 ...] # also score both sides' weights at these steps of the runs
        [--paper]                  # the papers' settings: 256 px, 100 + 100 epochs with linear
                                   # decay (80,000 pix2pix steps): a GPU's job
        [--json FILE]              # also write every run's scores to FILE

    .venv/bin/python tools/parity.py --pool a.json b.json ...
        # the summary over the runs of several --json files of one setting (more seeds, or one
        # side rerun), trained nothing

Needs the parity extra: pip install -e ".[parity]".
"""

import argparse
import copy
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.join(ROOT, os.pardir, "shared", "data", "facades")
TASKS = ("photo2labels", "labels2photo", "cyclegan")

sys.path.insert(0, HERE)
from parity_scores import (  # noqa: E402
    held_out, label_palette, majority_class_scores, mean_photo_scores, prepare_data, task_scores, task_sources,
)
from parity_stats import ratio_interval, sample_std, welch_t  # noqa: E402


# --- the two sides -------------------------------------------------------------------------

def settings(args):
    """What both sides train with, in the reference's terms."""
    paper = args.paper
    cyclegan = args.task == "cyclegan"
    size = 256 if paper else args.size
    return {
        "size": size,
        "load_size": 286 if paper else int(round(size * 286 / 256)),
        "steps": None if paper else args.steps,  # None: whole epochs, every training example once
        "epochs": (100, 100) if paper else None,  # (at the initial rate, of linear decay)
        "norm": args.norm or ("instance" if cyclegan else "batch"),
        "ngf": args.ngf or (64 if paper or not cyclegan else 32),
        "direction": "b2a" if args.task == "labels2photo" else "a2b",
    }


def tfi2i_overrides(task, s, data_root, seed, score_at=()):
    cyclegan = task == "cyclegan"
    # The U-Net's depth follows the crop size (log2 of it), as reference_torch.pix2pix_model's.
    generator = "resnet_9blocks" if cyclegan else "unet"
    sets = {
        "data.root": data_root, "data.load_size": s["load_size"], "data.crop_size": s["size"],
        "model.generator.name": generator, "model.generator.params.norm": s["norm"],
        "model.generator.params.ngf": s["ngf"], "model.discriminator.params.norm": s["norm"],
        "train.seed": seed, "train.report": False,
    }
    if s["epochs"]:
        sets.update({"train.n_epochs": s["epochs"][0], "train.n_epochs_decay": s["epochs"][1],
                     "train.lr_policy": "linear", "train.save_every_epochs": 10, "train.sample_every_epochs": 10})
    else:
        sets.update({"train.n_epochs": 1, "train.n_epochs_decay": 0, "train.steps_per_epoch": s["steps"],
                     "train.lr_policy": "constant", "train.log_every_steps": max(1, s["steps"] // 4)})
        if score_at:
            # A checkpoint at every step scored, none of them deleted.
            every = math.gcd(*score_at)
            sets.update({"train.save_every_steps": every, "train.keep_checkpoints": s["steps"] // every + 1})
    if not cyclegan:
        sets["data.direction"] = s["direction"]
    return sets


def train_tfi2i(args, s, data_root, seed, run_dir):
    config = "cyclegan_horse2zebra.yaml" if args.task == "cyclegan" else "pix2pix_facades.yaml"
    sets = tfi2i_overrides(args.task, s, data_root, seed, args.score_at)
    seconds, _ = run_tfi2i_train(config, run_dir, {**sets, **dict(args.set)})
    return seconds


def run_tfi2i_train(config, run_dir, sets):
    """`tfi2i train` of a project config with these overrides, in a new process; (wall seconds,
    its stdout)."""
    command = [os.path.join(os.path.dirname(sys.executable), "tfi2i"), "train", "--config", os.path.join(ROOT, "configs", config),
               "--run-dir", run_dir]
    for key, value in sets.items():
        command += ["--set", f"{key}={value}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"tfi2i train failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, result.stdout


def tfi2i_translations(args, run_dir, photos, labels, mode, checkpoint="latest"):
    from tfi2i.run.restore import restore_model

    _, model, _ = restore_model(run_dir, checkpoint)
    sources = task_sources(args.task, photos, labels)
    return {direction: keras_translate(model.translator(direction), sources[direction], mode)
            for direction in model.directions}


def keras_translate(generator, images, mode):
    """A tfi2i generator's translations of float [N, H, W, C] images, one at a time as the
    reference tests, in test `mode` (train: dropout on, each image's own statistics) as
    `tfi2i translate --mode` runs it: Keras' training=True would also move the moving
    statistics, which a later eval-mode use of the generator would read."""
    from tfi2i.nets import test_time

    network = test_time.for_mode(generator, mode)
    return np.concatenate([network(image[None], training=False).numpy() for image in images])


def train_reference(args, s, data_root, seed, score=None, device="cpu", threads=None):
    """The reference trained for the budget on a torch `device` (its networks are back on the
    CPU at the end); `score(step, model)` is called at each step of args.score_at, and what
    it changes is put back, so scoring does not change the run."""
    import random

    import torch

    import reference_torch as ref

    torch.manual_seed(seed)
    random.seed(seed)
    rng = random.Random(seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    if args.task == "cyclegan":
        model = ref.cyclegan_model(ngf=s["ngf"], norm=s["norm"])
        files = [sorted(glob.glob(os.path.join(data_root, f"train{d}", "*"))) for d in "AB"]
        batches = ref.unpaired_batches(*files, s["load_size"], s["size"], True, rng)
        epoch_length = max(map(len, files))
    else:
        model = ref.pix2pix_model(s["size"], ngf=s["ngf"], norm=s["norm"])
        files = sorted(glob.glob(os.path.join(data_root, "train", "*.jpg")))
        batches = ref.paired_batches(files, s["direction"], s["load_size"], s["size"], True, rng)
        epoch_length = len(files)
    for network in model.networks():
        network.to(device)  # in place: the optimizers keep the same parameters
    steps = s["steps"] or sum(s["epochs"]) * epoch_length
    optimizers = [model.g_optimizer, model.d_optimizer]
    initial = [group["lr"] for o in optimizers for group in o.param_groups]
    started = time.perf_counter()
    for step in range(1, steps + 1):
        if s["epochs"] and (step - 1) % epoch_length == 0:
            # The reference's linear policy: the initial rate for n epochs, then down to 0 over the rest.
            n, decay = s["epochs"]
            factor = 1.0 - max(0, (step - 1) // epoch_length + 1 - n) / float(decay + 1)
            for group, lr in zip((g for o in optimizers for g in o.param_groups), initial):
                group["lr"] = lr * factor
        losses = model.train_step(*(x.to(device) for x in next(batches)))
        if score and step in args.score_at and step != steps:
            # Scoring in train mode moves batch norm's running statistics and draws dropout
            # masks: both are put back.
            state = torch.get_rng_state()
            kept = [copy.deepcopy(g.state_dict()) for g in model.translators().values()]
            score(step, model)
            for generator, weights in zip(model.translators().values(), kept):
                generator.load_state_dict(weights)
            torch.set_rng_state(state)
        if step % max(1, steps // 4) == 0:
            print(f"  reference step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()), flush=True)
    seconds = time.perf_counter() - started
    for network in model.networks():
        network.cpu()
    return model, seconds


def reference_translations(args, model, photos, labels, mode):
    import reference_torch as ref

    sources = task_sources(args.task, photos, labels)
    return {direction: ref.translate(generator, sources[direction], mode)
            for direction, generator in model.translators().items()}


def scored_modes(args, translate, photos, labels, palette):
    """The task's scores in each test mode; train mode's names end in @train."""
    scores = {}
    for mode in args.test_modes:
        suffix = "" if mode == "eval" else "@train"
        for name, value in task_scores(args.task, translate(mode), photos, labels, palette).items():
            scores[name + suffix] = value
    return scores


def save_reference(model, path):
    """The reference's trained generators, to score again later (torch.load, load_state_dict)."""
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({direction: g.state_dict() for direction, g in model.translators().items()}, path)


# --- report ---------------------------------------------------------------------------------

def summary(rows, sides):
    names = list(next(iter(rows.values())).keys())
    lines = ["", f"{'side':<10} {'seed':>5} " + " ".join(f"{n:>12}" for n in names)]
    for (side, seed), scores in sorted(rows.items()):
        lines.append(f"{side:<10} {seed:>5} " + " ".join(f"{scores[n]:>12.4f}" for n in names))
    values = {side: np.array([[scores[n] for n in names] for (s, _), scores in rows.items() if s == side])
              for side in sides}
    for side in sides:
        lines.append(f"{side:<10} {'mean':>5} " + " ".join(f"{m:>12.4f}" for m in values[side].mean(axis=0)))
        lines.append(f"{side:<10} {'std':>5} " + " ".join(f"{d:>12.4f}" for d in sample_std(values[side])))
    if set(sides) == {"tfi2i", "reference"}:
        tfi2i, reference = values["tfi2i"], values["reference"]
        lines.append(f"{'ratio':<10} {'':>5} " + " ".join(
            f"{t / r:>12.3f}" for t, r in zip(tfi2i.mean(axis=0), reference.mean(axis=0))))
        lines.append(f"{'welch t':<10} {'':>5} " + " ".join(f"{t:>12.2f}" for t in welch_t(tfi2i, reference)))
        if min(len(tfi2i), len(reference)) > 1:
            lines.append(f"{'90% ratio':<10} {'':>5} " + " ".join(
                f"{f'{low:.3f}-{high:.3f}':>12}" for low, high in ratio_interval(tfi2i, reference)))
        lines.append("ratio: tfi2i's mean / the reference's (above 1 is better, except for l1); "
                     "std: over seeds (n - 1); welch t: the difference of the means in its standard errors; "
                     "90% ratio: the ratio's 90% confidence interval (Fieller)")
    return "\n".join(lines)


def print_summaries(rows, sides):
    """The summary of each step's rows ({step: {(side, seed): scores}}), steps in order, of
    those of `sides` that the step has."""
    steps = sorted(rows, key=lambda step: (isinstance(step, str), step))  # "final" (--paper) last
    for step in steps:
        if len(steps) > 1:
            print(f"\nat step {step}:", end="")
        print(summary(rows[step], [side for side in sides if any(s == side for s, _ in rows[step])]))


def save_scores(path, settings, args, rows):
    """Writes the scores ({step: {(side, seed): scores}}) of runs trained with `settings` and
    the command line's `args` (a dict), as `pooled_rows` reads them back."""
    with open(path, "w") as f:
        json.dump({"settings": settings, "args": args, "rows": [
            {"side": side, "seed": seed, "step": step, **scores}
            for step, by_run in rows.items() for (side, seed), scores in by_run.items()]}, f, indent=1)


def pooled_rows(paths):
    """The scores of earlier runs' --json files: {step: {(side, seed): scores}}, over the scores
    every file has. The files must train one setting (the same task, sizes, networks and tfi2i
    overrides; their steps may differ, as a run scored at --score-at steps holds its earlier
    steps' scores), and each (side, seed, step) must come from one file only. Raises ValueError
    naming the culprit."""
    rows, setting, names, where = {}, None, None, {}
    for path in paths:
        try:
            with open(path) as f:
                saved = json.load(f)
            task, s, overrides = saved["args"]["task"], dict(saved["settings"]), saved["args"]["set"]
            s.pop("steps")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a file of parity.py --json ({error})")
        if setting is None:
            setting, first = (task, s, overrides), path
        elif (task, s, overrides) != setting:
            raise ValueError(f"{path} trains {task} {s} with tfi2i overrides {overrides}, where {first} trains "
                             f"{setting[0]} {setting[1]} with {setting[2]}: pool runs of one setting")
        for row in saved["rows"]:
            key = (row.pop("side"), row.pop("seed"))
            step = row.pop("step")
            if (key, step) in where:
                raise ValueError(f"{key[0]} seed {key[1]} step {step} is in both {where[key, step]} and {path}: "
                                 "pass one of them")
            where[key, step] = path
            rows.setdefault(step, {})[key] = row
            names = list(row) if names is None else [n for n in names if n in row]  # the first file's order
    if not rows:
        raise ValueError(f"{', '.join(paths)} hold no scores")
    return {step: {key: {n: scores[n] for n in names} for key, scores in by_run.items()}
            for step, by_run in rows.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, default="photo2labels")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--norm", choices=("batch", "instance"), help="default: the reference's for the model")
    parser.add_argument("--ngf", type=int, help="default 64 (CycleGAN on CPU: 32)")
    parser.add_argument("--test-modes", nargs="+", choices=("eval", "train"), default=["eval", "train"],
                        help="eval: dropout off, running statistics (the reference's --eval); train: dropout "
                             "on and each image's own statistics (the reference's default test)")
    parser.add_argument("--set", action="append", default=[], type=lambda kv: tuple(kv.split("=", 1)),
                        metavar="KEY=VALUE", help="a tfi2i config override")
    parser.add_argument("--sides", nargs="+", choices=("tfi2i", "reference"), default=["tfi2i", "reference"])
    parser.add_argument("--score-at", type=int, nargs="+", default=[], metavar="STEP",
                        help="also score both sides at these steps (a learning curve from the same runs)")
    parser.add_argument("--paper", action="store_true", help="the papers' size and schedule (--steps, --size ignored)")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", help="where data copies and runs go (default: a temporary folder)")
    parser.add_argument("--json", help="also write the scores here")
    parser.add_argument("--pool", nargs="+", metavar="FILE",
                        help="print the summary over the runs of these --json files, and train nothing")
    args = parser.parse_args()
    if args.pool:
        try:
            rows = pooled_rows(args.pool)
        except ValueError as error:
            parser.exit(2, f"error: --pool: {error}\n")
        print_summaries(rows, ["tfi2i", "reference"])
        return

    s = settings(args)
    if args.score_at and (args.paper or max(args.score_at) > args.steps):
        parser.error("--score-at takes steps up to --steps, without --paper")
    final = s["steps"] or "final"
    score_steps = sorted(set(args.score_at) | {final}) if args.score_at else [final]
    work = args.work or tempfile.mkdtemp(prefix="tfi2i-parity-")
    data_root = prepare_data(args.data, work, args.task)
    photos, labels = held_out(args.data, s["size"])
    palette = label_palette(args.data)
    print(f"task {args.task}: {s}, test modes {args.test_modes}, tfi2i overrides {dict(args.set)}, work {work}",
          flush=True)
    if args.task != "labels2photo":
        print("baseline: the most common class painted everywhere scores", majority_class_scores(labels, palette),
              flush=True)
    if args.task != "photo2labels":
        print("baseline: the mean training photo for every input scores", mean_photo_scores(args.data, photos),
              flush=True)

    rows, seconds = {step: {} for step in score_steps}, {}  # rows[step][(side, seed)]: scores

    def score_reference(step, seed, model):
        rows[step][("reference", seed)] = scored_modes(
            args, lambda mode: reference_translations(args, model, photos, labels, mode), photos, labels, palette)
        print("reference", seed, "step", step, rows[step][("reference", seed)], flush=True)

    for seed in args.seeds:
        if "tfi2i" in args.sides:
            run_dir = os.path.join(work, "runs", f"{args.task}-tfi2i-seed{seed}")
            shutil.rmtree(run_dir, ignore_errors=True)
            seconds[("tfi2i", seed)] = train_tfi2i(args, s, data_root, seed, run_dir)
            for step in score_steps:
                checkpoint = "latest" if step == final else step
                rows[step][("tfi2i", seed)] = scored_modes(
                    args, lambda mode: tfi2i_translations(args, run_dir, photos, labels, mode, checkpoint), photos,
                    labels, palette)
                print("tfi2i", seed, "step", step, rows[step][("tfi2i", seed)], flush=True)
            print(f"tfi2i {seed}: {seconds[('tfi2i', seed)]:.0f} s", flush=True)
        if "reference" in args.sides:
            model, seconds[("reference", seed)] = train_reference(
                args, s, data_root, seed, lambda step, model: score_reference(step, seed, model))
            save_reference(model, os.path.join(work, "runs", f"{args.task}-reference-seed{seed}.pt"))
            score_reference(final, seed, model)
            print(f"reference {seed}: {seconds[('reference', seed)]:.0f} s", flush=True)
    print_summaries(rows, args.sides)
    for side in args.sides:
        total = sum(t for (sd, _), t in seconds.items() if sd == side)
        if s["steps"]:
            print(f"{side}: {total / (s['steps'] * len(args.seeds)):.3f} s a training step (wall, with data and start-up)")
    if args.json:
        save_scores(args.json, s, vars(args), rows)


if __name__ == "__main__":
    main()
