"""Is a score difference in the training or in the test path? Scores one tfi2i run of
tools/parity.py through tfi2i's generator and, its trained weights copied, through the
reference's (tools/reference_torch.py), on the same held-out images with the same measure.

Eval mode must agree to float rounding; train mode (dropout on) is scored over several
dropout draws a side. Equal scores say the two test paths are one, so a gap between the
sides of tools/parity.py lies in the weights the training left.

    .venv/bin/python tools/cross_score.py --task photo2labels RUN_DIR [--checkpoint STEP] [--draws 4]
        [--parts REFERENCE_PT]

--parts scores the train-mode test's two parts apart (batch norm by each image's statistics;
dropout on), for the run's generator through its twin and for the reference generators that
parity.py saved in REFERENCE_PT (WORK/runs/TASK-reference-seedS.pt): which part carries a gap.

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


def set_parts(network, batch_statistics, dropout):
    """A torch network with batch norm by each image's statistics or the running ones, and
    dropout on or off."""
    import torch

    network.eval()
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.train(batch_statistics)
        elif isinstance(module, torch.nn.Dropout):
            module.train(dropout)


def score_parts(task, generators, sources, photos, labels, palette, draws):
    """{(batch_statistics, dropout): scores} of torch generators {direction: network}, over
    `draws` dropout draws where dropout is on; running statistics are put back."""
    import torch

    import reference_torch as ref

    results = {}
    for batch_statistics in (False, True):
        for dropout in (False, True):
            runs = []
            for draw in range(draws if dropout else 1):
                torch.manual_seed(draw)
                kept = {d: {k: v.clone() for k, v in g.state_dict().items()} for d, g in generators.items()}
                translations = {}
                for direction, generator in generators.items():
                    set_parts(generator, batch_statistics, dropout)
                    translations[direction] = ref.translate(generator, sources[direction], mode=None)
                    generator.load_state_dict(kept[direction])
                runs.append(task_scores(task, translations, photos, labels, palette))
            results[batch_statistics, dropout] = {n: float(np.mean([r[n] for r in runs])) for n in runs[0]}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--checkpoint", default="latest")
    parser.add_argument("--draws", type=int, default=4, help="train-mode scorings a side (dropout draws)")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--parts", metavar="REFERENCE_PT", help="score the train-mode test's parts apart")
    args = parser.parse_args()

    import torch

    import reference_torch as ref
    from tfi2i.run.restore import restore_model
    from weight_transfer import copy_weights

    config, model, step = restore_model(args.run_dir, args.checkpoint)
    photos, labels = held_out(args.data, config.data.crop_size)
    palette = label_palette(args.data)
    sources = task_sources(args.task, photos, labels)

    def fresh_twins():
        """The run's generators as reference networks (train-mode scoring moves their running
        statistics, so each use that reads them takes new ones)."""
        twins = {}
        for direction in model.directions:
            twins[direction] = reference_twin(config)
            copy_weights(model.translator(direction), twins[direction])
        return twins

    twins = fresh_twins()

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

    if args.parts:
        saved = torch.load(args.parts)
        theirs = {}
        for direction in model.directions:
            theirs[direction] = reference_twin(config)
            theirs[direction].load_state_dict(saved[direction])
        print(f"the train-mode test's parts apart: the run's generator (through its twin), the reference's ({args.parts})")
        sides = {"tfi2i": score_parts(args.task, fresh_twins(), sources, photos, labels, palette, args.draws),
                 "reference": score_parts(args.task, theirs, sources, photos, labels, palette, args.draws)}
        for (batch_statistics, dropout) in sides["tfi2i"]:
            part = f"batch norm {'own stats' if batch_statistics else 'running'}, dropout {'on' if dropout else 'off'}"
            print(f"{part:37s} " + "  ".join(
                f"{side} " + " ".join(f"{n} {v:.4f}" for n, v in scores[batch_statistics, dropout].items())
                for side, scores in sides.items()))


if __name__ == "__main__":
    main()
