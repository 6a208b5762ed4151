"""Does the GAIT loss keep uniform backgrounds flat? Trains CycleGAN with and without
`gait_sobel` (same seed, same steps) on an unpaired set made for the question, and prints, for
held-out A images, the spread of G(A) over the background, where the true translation is one
flat colour.

`--dataset textured` (the default) is the paper's setting: A holds flat painted shapes on a
uniform background, B the same kind of shapes painted with stripes over textured backgrounds
(crops of the facade photos, --textures). The true A -> B of GAIT's premise adds the stripes
and keeps A's flat background; CycleGAN alone paints B's texture there.
`--dataset stripes`: B's shapes striped on the same flat background as A, so no model has
reason to paint the background. `--dataset labels`: the built-in synthetic set (label maps
-> paintings), whose true mapping changes every edge, which the loss with alpha 1 works against.

Variants (--variants): cycle (CycleGAN alone), gait (+ gait_sobel, the paper's operator),
gait_forward (+ gait_sobel with operator sobel_and_forward), gait_resize (+ gait_sobel, the
generator upsampling by resize-convolution), for each --seeds; prints per run and the mean
over seeds of the background std, the error inside the shapes against the striped truth, and
the whole image's.

Also prints the magnitude of both `gait_sobel` reductions against the cycle term for an
untrained reference-size CycleGAN generator (ResNet-9, ngf 64, 256x256), which is what the
choice of default reduction rests on.

    .venv/bin/python tools/gait_background.py [--steps 2000] [--seeds 0 1 2] [--gait-weight 630]
        [--variants cycle gait gait_forward gait_resize] [--runs DIR]
        [--set optimizer.lr=1e-4] [--set model.generator.params.ngf=32]
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from tfi2i import config as config_lib, registry
from tfi2i.data import folders, pipeline, synthetic
from tfi2i.losses import Translation
from tfi2i.training.assembly import assemble

CONFIG = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "cyclegan_synthetic.yaml")
TEXTURES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data", "facades", "train")
VARIANTS = ("cycle", "gait", "gait_forward", "gait_resize")


def striped(image, shapes, size):
    """Darkens every other pair of rows inside the shapes: the B domain of the stripes set."""
    pixels = np.asarray(image).astype(np.float32)
    inside = np.asarray(synthetic.render_a(shapes, size)).max(-1) > 0
    stripes = (np.arange(size) // 2 % 2 == 1)[:, None] & inside
    pixels[stripes] *= 0.4
    return Image.fromarray(pixels.astype(np.uint8))


def texture_crops(folder, size, rng):
    """Endless size x size crops of the photos (left halves of aligned A|B files) in `folder`."""
    photos = [Image.open(p).convert("RGB") for p in folders.list_images(folder)]
    if not photos:
        raise SystemExit(f"error: no images in --textures {folder}")
    while True:
        photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        photo = photo.crop((0, 0, width // 2, height)) if width >= 2 * height else photo
        side = int(rng.integers(size, min(photo.size) + 1))
        x, y = int(rng.integers(0, photo.size[0] - side + 1)), int(rng.integers(0, photo.size[1] - side + 1))
        yield photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BICUBIC)


def over_texture(image, shapes, size, texture):
    """`image` with its background (all but the shapes and their outlines) taken from `texture`."""
    inside = np.asarray(synthetic.render_a(shapes, size)).max(-1) > 0
    # The outlines lie just outside the fills: a 3x3 dilation keeps them.
    kept = tf.nn.max_pool2d(inside[None, :, :, None].astype(np.float32), 3, 1, "SAME")[0, :, :, 0].numpy() > 0
    pixels = np.where(kept[..., None], np.asarray(image), np.asarray(texture))
    return Image.fromarray(pixels.astype(np.uint8))


def write_stripes(root, count, size, seed=0, textures=None):
    """trainA/trainB (independent shapes) and testA/testA_truth/testA_masks; B's backgrounds
    are texture crops when `textures` names a folder of photos."""
    rng = np.random.default_rng(seed)
    crops = texture_crops(textures, size, rng) if textures else None
    folders_by_split = {"train": count, "test": max(8, count // 8)}
    for split, n in folders_by_split.items():
        names = ["A", "B"] if split == "train" else ["A", "A_truth", "A_masks"]
        for name in names:
            os.makedirs(os.path.join(root, f"{split}{name}"), exist_ok=True)
        for i in range(n):
            file = f"{i:05d}.png"
            shapes = synthetic.random_shapes(rng, size)
            flat = synthetic.render_b(shapes, size)
            flat.save(os.path.join(root, f"{split}A", file))
            if split == "train":
                other = synthetic.random_shapes(rng, size)
                b = striped(synthetic.render_b(other, size), other, size)
                if crops:
                    b = over_texture(b, other, size, next(crops))
                b.save(os.path.join(root, "trainB", file))
            else:
                striped(flat, shapes, size).save(os.path.join(root, "testA_truth", file))
                synthetic.render_a(shapes, size).save(os.path.join(root, "testA_masks", file))
    return root


def background_spread(model, data_root, data_config):
    """Means over test images of: the per-channel std of G(A) on the background, |G(A) - truth|
    inside the shapes, and |G(A) - truth| over the whole image."""
    masks = "testA_masks" if os.path.isdir(os.path.join(data_root, "testA_masks")) else "testA"
    files = folders.UnpairedFiles(
        tuple(folders.list_images(os.path.join(data_root, "testA"))),
        tuple(folders.list_images(os.path.join(data_root, "testA_truth"))),
    )
    label_maps = folders.UnpairedFiles(files.a_paths, tuple(folders.list_images(os.path.join(data_root, masks))))
    spreads, shape_errors, errors = [], [], []
    batches = zip(pipeline.evaluation_set(files, data_config, 8), pipeline.evaluation_set(label_maps, data_config, 8))
    for (source, truth), (_, label_map) in batches:
        translated = model(source).numpy()
        for m, g, t in zip(label_map.numpy(), translated, truth.numpy()):
            shapes = (np.abs(m + 1.0).max(-1) > 0.05).astype(np.float32)  # label maps: shapes on black
            # Two pixels off every shape (a 5x5 dilation), so outlines do not count as background.
            near_shape = tf.nn.max_pool2d(shapes[None, :, :, None], 5, 1, "SAME")[0, :, :, 0].numpy()
            background = near_shape == 0
            spreads.append(g[background].std(axis=0).mean())
            shape_errors.append(np.abs(g - t)[shapes > 0].mean())
            errors.append(np.abs(g - t).mean())
    return float(np.mean(spreads)), float(np.mean(shape_errors)), float(np.mean(errors))


def train(overrides, run_dir):
    config = config_lib.load(CONFIG, overrides)
    trainer = assemble(config, run_dir, log=lambda _: None)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    root = config.data.root or os.path.join(run_dir, "data")
    return trainer, background_spread(trainer.model, root, config.data), seconds


def reduction_magnitudes():
    """gait_sobel (both reductions) and cycle L1 for an untrained ResNet-9 at 256x256."""
    keras.utils.set_random_seed(0)
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


def variant_overrides(variant, weight, alpha):
    cycle = "{name: cycle_l1, weight: 10}"
    gait = f"{{name: gait_sobel, weight: {weight}, params: {{alpha: {alpha}%s}}}}"
    if variant == "cycle":
        return [f"losses=[{cycle}]"]
    if variant == "gait_forward":
        return [f"losses=[{cycle}, {gait % ', operator: sobel_and_forward'}]"]
    overrides = [f"losses=[{cycle}, {gait % ''}]"]
    if variant == "gait_resize":
        overrides.append("model.generator.params.upsampling=resize")
    return overrides


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--gait-weight", type=float, default=630.0)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--dataset", choices=["textured", "stripes", "labels"], default="textured")
    parser.add_argument("--textures", default=TEXTURES, help="photos for B's backgrounds (textured set)")
    parser.add_argument("--runs", default=None, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra config override for every run, e.g. optimizer.lr=1e-4")
    args = parser.parse_args()

    values = reduction_magnitudes()
    print("untrained ResNet-9 at 256x256, one synthetic image:")
    print(f"  10 x cycle_l1          = {10 * values['cycle_l1']:.3g}")
    for name in ("gait mean_squared", "gait l2_norm"):
        print(f"  630 x {name:17s}= {630 * values[name]:.3g}")

    runs = args.runs or tempfile.mkdtemp(prefix="gait_background_")
    data_root = os.path.join(runs, f"data_{args.dataset}")
    if args.dataset != "labels" and not os.path.isdir(data_root):
        write_stripes(data_root, count=200, size=64, textures=args.textures if args.dataset == "textured" else None)
    common = [f"train.steps_per_epoch={args.steps}", "train.n_epochs=1", "train.n_epochs_decay=0",
              "train.save_every_epochs=1", "train.report=false"]
    common += [f"data.root={data_root}"] if args.dataset != "labels" else []
    print(f"\nCycleGAN, configs/cyclegan_synthetic.yaml {' '.join(args.overrides)}, {args.dataset} set, "
          f"{args.steps} steps, gait_sobel weight {args.gait_weight:g} alpha {args.alpha:g}; testA:")
    header = f"  {'variant':14s} {'seed':>4s} {'bg std of G(A)':>15s} {'|G(A)-truth| shapes':>20s} {'whole':>8s} {'seconds':>8s}"
    print(header)
    results = {variant: [] for variant in args.variants}
    for seed in args.seeds:
        for variant in args.variants:
            overrides = common + variant_overrides(variant, args.gait_weight, args.alpha) + [f"train.seed={seed}"]
            _, scores, seconds = train(overrides + args.overrides, os.path.join(runs, f"{args.dataset}_{variant}_seed{seed}"))
            results[variant].append(scores)
            print(f"  {variant:14s} {seed:4d} {scores[0]:15.4f} {scores[1]:20.4f} {scores[2]:8.4f} {seconds:8.0f}", flush=True)
    print(f"\nmeans over seeds {args.seeds} (std across seeds):")
    print(header[: header.index("seconds")])
    for variant, rows in results.items():
        mean, std = np.mean(rows, axis=0), np.std(rows, axis=0)
        print(f"  {variant:14s} {'':4s} " + " ".join(f"{m:{w}.4f}" for m, w in zip(mean, (15, 20, 8)))
              + "   (" + ", ".join(f"{d:.4f}" for d in std) + ")")
    print(f"runs: {runs}")


if __name__ == "__main__":
    main()
