"""Is a score difference in the training or in the test path? Scores one tfi2i run of
tools/parity.py through tfi2i's generator and, its trained weights copied, through the
reference's (tools/reference_torch.py), on the same held-out images with the same measure.

Eval mode must agree to float rounding; train mode (dropout on) is scored over several
dropout draws a side. Equal scores say the two test paths are one, so a gap between the
sides of tools/parity.py lies in the weights the training left.

    .venv/bin/python tools/cross_score.py --task photo2labels RUN_DIR [--checkpoint STEP] [--draws 4]

RUN_DIR: a tfi2i run of parity.py (`--work DIR` keeps them, under DIR/runs/). Needs the parity extra.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from parity import DEFAULT_DATA, TASKS, keras_translate  # noqa: E402
from parity_scores import held_out, label_palette, task_scores, task_sources  # noqa: E402
from parity_stats import sample_std  # noqa: E402


def reference_twin(config):
    """The reference's generator of the run's architecture."""
    import reference_torch as ref

    params = config.model.generator.params
    norm, ngf = params.get("norm", "batch"), params.get("ngf", 64)
    if config.model.name == "cyclegan":
        return ref.resnet_generator(3, 3, ngf=ngf, n_blocks=params.get("n_blocks", 9), norm=norm)
    num_downs = int(np.log2(config.data.crop_size))
    return ref.unet_generator(3, 3, num_downs, ngf=ngf, norm=norm, dropout=params.get("dropout", True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--checkpoint", default="latest")
    parser.add_argument("--draws", type=int, default=4, help="train-mode scorings a side (dropout draws)")
    parser.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args()

    import torch

    import reference_torch as ref
    from tfi2i.run.restore import restore_model
    from weight_transfer import copy_weights

    config, model, step = restore_model(args.run_dir, args.checkpoint)
    photos, labels = held_out(args.data, config.data.crop_size)
    palette = label_palette(args.data)
    sources = task_sources(args.task, photos, labels)
    twins = {}
    for direction in model.directions:
        twins[direction] = reference_twin(config)
        copy_weights(model.translator(direction), twins[direction])

    def scores(translate, mode):
        return task_scores(args.task, {d: translate(d, mode) for d in model.directions}, photos, labels, palette)

    def through_tfi2i(direction, mode):
        return keras_translate(model.translator(direction), sources[direction], mode)

    def through_reference(direction, mode):
        return ref.translate(twins[direction], sources[direction], mode)

    print(f"{args.run_dir}, step {step}: {args.task} scored through each side's generator, the same weights")
    for mode, draws in (("eval", 1), ("train", args.draws)):
        rows = {"tfi2i": [], "reference": []}
        for draw in range(draws):
            torch.manual_seed(draw)
            rows["tfi2i"].append(scores(through_tfi2i, mode))
            rows["reference"].append(scores(through_reference, mode))
        for side, runs in rows.items():
            names = list(runs[0])
            values = np.array([[r[n] for n in names] for r in runs])
            spread = "" if draws == 1 else "  (+- " + " ".join(f"{v:.5f}" for v in sample_std(values)) + ")"
            print(f"{mode:5s} {side:9s} " + " ".join(f"{n} {v:.4f}" for n, v in zip(names, values.mean(axis=0))) + spread)


if __name__ == "__main__":
    main()
