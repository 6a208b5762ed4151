"""What PatchNCE adds: trains CUT with its PatchNCE term (`cut`: weight 1 with the identity
term), as FastCUT (`fastcut`: weight 10, no identity term) and with no PatchNCE at all
(`no_nce`: the GAN term alone), same config, seeds and steps, on the built-in synthetic
unpaired task, and prints for held-out A images, whose true B is known:
  - L1: mean |G(A) - true B| (lower is better)
  - contrast: how far G(A) inside A's shapes is from G(A) on the background (the truth's is
    about 1.5; near 0 when G ignores its input or moves the shapes)
  - seconds per training step
per run, and each variant's mean +- std over the seeds with its ratio to no_nce's mean.

    .venv/bin/python tools/cut_ablation.py [--config configs/cut_synthetic.yaml] [--seeds 0 1 2]
        [--variants cut fastcut no_nce] [--steps 1000] [--runs DIR] [--set KEY=VALUE ...]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

from tfi2i import config as config_lib  # noqa: E402
from tfi2i.evaluation.synthetic_task import held_out_pairs, translation_scores  # noqa: E402
from tfi2i.training.assembly import assemble  # noqa: E402

CONFIG = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "cut_synthetic.yaml")


def variant_losses(config_path, variant):
    """The `losses` override of a variant, from the config's patch_nce entry."""
    with open(config_path) as f:
        [nce] = [loss for loss in yaml.safe_load(f)["losses"] if loss["name"] == "patch_nce"]
    if variant == "no_nce":
        return []
    params = {**nce.get("params", {}), "identity": variant == "cut"}
    return [{"name": "patch_nce", "weight": 1.0 if variant == "cut" else 10.0, "params": params}]


def train_and_score(config_path, variant, seed, steps, overrides, run_dir, pairs):
    """(L1, contrast, seconds per step, steps) of one variant trained `steps` steps with `seed`."""
    losses = yaml.safe_dump(variant_losses(config_path, variant), default_flow_style=True).strip()
    variant_overrides = [*overrides, f"losses={losses}", f"train.seed={seed}", "train.report=false"]
    epochs = config_lib.load(config_path, variant_overrides).train
    steps_per_epoch = max(steps // (epochs.n_epochs + epochs.n_epochs_decay), 1)
    config = config_lib.load(config_path, [*variant_overrides, f"train.steps_per_epoch={steps_per_epoch}"])
    trainer = assemble(config, run_dir, log=lambda _: None)
    start = time.perf_counter()
    trainer.fit()
    seconds = (time.perf_counter() - start) / max(trainer.step, 1)
    a, truth = pairs
    return (*translation_scores(trainer.model(a), a, truth), seconds, trainer.step)


def summary(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["cut", "fastcut", "no_nce"],
                        choices=["cut", "fastcut", "no_nce"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", default=None, help="where the runs go (default: a temporary directory)")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = parser.parse_args()

    runs = args.runs or tempfile.mkdtemp(prefix="cut_ablation_")
    size = config_lib.load(args.config, args.overrides).data.crop_size
    pairs = held_out_pairs(64, size, seed=123)
    print(f"{args.config}, {args.steps} steps, seeds {args.seeds}; 64 held-out {size}x{size} pairs; runs in {runs}")
    results = {}
    for variant in args.variants:
        for seed in args.seeds:
            l1, contrast, seconds, steps = train_and_score(
                args.config, variant, seed, args.steps, args.overrides, os.path.join(runs, f"{variant}_{seed}"), pairs)
            results.setdefault(variant, []).append((l1, contrast, seconds))
            print(f"{variant:8s} seed {seed}: L1 {l1:.4f}  contrast {contrast:.4f}  {seconds:.3f} s/step ({steps} steps)",
                  flush=True)

    print(f"\n{'variant':8s}  {'L1 mean +- std':>18s}  {'x no_nce':>8s}  {'contrast mean +- std':>20s}  "
          f"{'x no_nce':>8s}  {'s/step':>7s}")
    baseline = {i: summary([r[i] for r in results["no_nce"]])[0] for i in range(3)} if "no_nce" in results else None
    for variant, rows in results.items():
        cells = []
        for i in range(2):
            mean, std = summary([r[i] for r in rows])
            ratio = f"{mean / baseline[i]:.2f}" if baseline else "-"
            cells.append(f"{mean:.4f} +- {std:.4f}  {ratio:>8s}")
        print(f"{variant:8s}  {cells[0]:>28s}  {cells[1]:>30s}  {summary([r[2] for r in rows])[0]:7.3f}")


if __name__ == "__main__":
    main()
