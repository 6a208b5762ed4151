"""Does the GAIT loss keep uniform backgrounds flat? Trains CycleGAN on the synthetic unpaired
set with and without `gait_sobel` (same seed, same steps) and prints, for the held-out testA
images, the spread of G(A) over the background, where the true translation is one flat colour.

Also prints the magnitude of both `gait_sobel` reductions against the cycle term for an
untrained reference-size CycleGAN generator (ResNet-9, ngf 64, 256x256), which is what the
choice of default reduction rests on.

    .venv/bin/python tools/gait_background.py [--steps 1000] [--gait-weight 630] [--runs DIR]
"""

import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from tfi2i import config as config_lib, registry
from tfi2i.data import folders, pipeline, synthetic
from tfi2i.losses import Translation
from tfi2i.training.trainer import Trainer

CONFIG = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "cyclegan_synthetic.yaml")


def background_spread(model, data_root, data_config):
    """Mean over test images of the per-channel std of G(A) on the background, and mean |G(A) - truth|."""
    files = folders.UnpairedFiles(
        tuple(folders.list_images(os.path.join(data_root, "testA"))),
        tuple(folders.list_images(os.path.join(data_root, "testA_truth"))),
    )
    spreads, errors = [], []
    for source, truth in pipeline.evaluation_set(files, data_config, 8):
        translated = model(source).numpy()
        for a, g, t in zip(source.numpy(), translated, truth.numpy()):
            shapes = (np.abs(a + 1.0).max(-1) > 0.05).astype(np.float32)  # label maps: shapes on black
            # Two pixels off every shape (a 5x5 dilation), so outlines do not count as background.
            near_shape = tf.nn.max_pool2d(shapes[None, :, :, None], 5, 1, "SAME")[0, :, :, 0].numpy()
            background = near_shape == 0
            spreads.append(g[background].std(axis=0).mean())
            errors.append(np.abs(g - t).mean())
    return float(np.mean(spreads)), float(np.mean(errors))


def train(overrides, run_dir):
    config = config_lib.load(CONFIG, overrides)
    trainer = Trainer(config, run_dir, log=lambda _: None)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    root = config.data.root or os.path.join(run_dir, "data")
    return trainer, background_spread(trainer.model, root, config.data), seconds


def reduction_magnitudes():
    """gait_sobel (both reductions) and cycle L1 for an untrained ResNet-9 at 256x256."""
    make = registry.load("tfi2i.generators", "resnet_9blocks")
    g, f = make(3, 3, name="g"), make(3, 3, name="f")
    a, _ = synthetic.sample(np.random.default_rng(0), 256)
    x = tf.constant(np.asarray(a, np.float32)[None] / 127.5 - 1.0)
    translated = g(x)
    t = Translation(source=x, translated=translated, reconstructed=f(translated))
    loss = registry.load("tfi2i.losses", "gait_sobel")
    cycle = float(registry.load("tfi2i.losses", "cycle_l1")()(t)[0])
    return {
        "cycle_l1": cycle,
        "gait mean_squared": float(loss(reduction="mean_squared")(t)[0]),
        "gait l2_norm": float(loss(reduction="l2_norm")(t)[0]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--gait-weight", type=float, default=630.0)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--runs", default=None, help="keep the two runs here (default: a temp dir)")
    args = parser.parse_args()

    values = reduction_magnitudes()
    print("untrained ResNet-9 at 256x256, one synthetic image:")
    print(f"  10 x cycle_l1          = {10 * values['cycle_l1']:.3g}")
    for name in ("gait mean_squared", "gait l2_norm"):
        print(f"  630 x {name:17s}= {630 * values[name]:.3g}")

    runs = args.runs or tempfile.mkdtemp(prefix="gait_background_")
    common = [f"train.steps_per_epoch={args.steps}", "train.n_epochs=1", "train.n_epochs_decay=0",
              "train.save_every_epochs=1", f"data.root={os.path.join(runs, 'data')}"]
    variants = {
        "cycle_l1 10": ["losses=[{name: cycle_l1, weight: 10}]"],
        f"+ gait_sobel {args.gait_weight:g} (alpha {args.alpha:g})": [
            f"losses=[{{name: cycle_l1, weight: 10}}, "
            f"{{name: gait_sobel, weight: {args.gait_weight}, params: {{alpha: {args.alpha}}}}}]"
        ],
    }
    print(f"\nCycleGAN, configs/cyclegan_synthetic.yaml, {args.steps} steps, testA background:")
    print(f"  {'losses':34s} {'bg std of G(A)':>15s} {'|G(A) - truth|':>15s} {'seconds':>8s}")
    for i, (name, overrides) in enumerate(variants.items()):
        _, (spread, error), seconds = train(common + overrides, os.path.join(runs, f"run{i}"))
        print(f"  {name:34s} {spread:15.4f} {error:15.4f} {seconds:8.0f}")
    print(f"runs: {runs}")


if __name__ == "__main__":
    main()
