"""Synthetic datasets whose A -> B mapping is known exactly.

Each sample is a handful of shapes rendered two ways:
  A: a label map, each shape a flat class colour on black (like the facades labels);
  B: a "photo", each shape in its class's paint colour with a dark outline, on a light
     background.
The mapping A -> B is therefore a known per-pixel recolouring plus outlines, which a tiny
network learns in a few hundred steps, so learning tests can compare G(A) with the truth.
"""

import os

import numpy as np
from PIL import Image, ImageDraw

LABEL_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
PAINT_COLOURS = [(40, 40, 160), (200, 160, 20), (20, 140, 60)]
LABEL_BACKGROUND = (0, 0, 0)
PAINT_BACKGROUND = (230, 230, 220)
OUTLINE = (30, 30, 30)


def random_shapes(rng, size, max_shapes=3):
    """A list of (kind, class, box) for 1..max_shapes non-degenerate shapes."""
    shapes = []
    for _ in range(rng.integers(1, max_shapes + 1)):
        w, h = rng.integers(size // 5, size // 2, size=2)
        x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
        shapes.append((int(rng.integers(0, 3)), int(rng.integers(0, 3)), (int(x0), int(y0), int(x0 + w), int(y0 + h))))
    return shapes


def _draw(shape, draw, fill, outline, width):
    kind, _, box = shape
    if kind == 0:
        draw.rectangle(box, fill=fill, outline=outline, width=width)
    elif kind == 1:
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    else:
        x0, y0, x1, y1 = box
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill, outline=outline, width=width)


def render_a(shapes, size):
    image = Image.new("RGB", (size, size), LABEL_BACKGROUND)
    draw = ImageDraw.Draw(image)
    for shape in shapes:
        _draw(shape, draw, LABEL_COLOURS[shape[1]], None, 0)
    return image


def render_b(shapes, size):
    image = Image.new("RGB", (size, size), PAINT_BACKGROUND)
    draw = ImageDraw.Draw(image)
    for shape in shapes:
        _draw(shape, draw, PAINT_COLOURS[shape[1]], OUTLINE, max(1, size // 32))
    return image


def sample(rng, size):
    """One (A, B) pair of PIL images rendered from the same random shapes."""
    shapes = random_shapes(rng, size)
    return render_a(shapes, size), render_b(shapes, size)


def _split_counts(count):
    held_out = max(1, count // 8)
    return {"train": count, "val": held_out, "test": held_out}


def write_paired(out, count=64, size=64, seed=0):
    """Writes the aligned layout: <out>/{train,val,test}/<i>.png, each A|B side by side."""
    rng = np.random.default_rng(seed)
    for split, n in _split_counts(count).items():
        os.makedirs(os.path.join(out, split), exist_ok=True)
        for i in range(n):
            a, b = sample(rng, size)
            pair = Image.new("RGB", (2 * size, size))
            pair.paste(a, (0, 0))
            pair.paste(b, (size, 0))
            pair.save(os.path.join(out, split, f"{i:05d}.png"))
    return out


def write_unpaired(out, count=64, size=64, seed=0):
    """Writes the unaligned layout: <out>/{train,test}{A,B}/<i>.png from independent shapes.

    testA also gets its true translations in testA_truth/ (same file names), so a model's
    G(A) can be scored against the known mapping.
    """
    rng = np.random.default_rng(seed)
    counts = _split_counts(count)
    for split in ("train", "test"):
        for domain in ("A", "B"):
            os.makedirs(os.path.join(out, f"{split}{domain}"), exist_ok=True)
        if split == "test":
            os.makedirs(os.path.join(out, "testA_truth"), exist_ok=True)
        for i in range(counts[split]):
            a, truth = sample(rng, size)
            _, b = sample(rng, size)
            name = f"{i:05d}.png"
            a.save(os.path.join(out, f"{split}A", name))
            b.save(os.path.join(out, f"{split}B", name))
            if split == "test":
                truth.save(os.path.join(out, "testA_truth", name))
    return out


def write(kind, out, count=64, size=64, seed=0):
    writer = {"paired": write_paired, "unpaired": write_unpaired}[kind]
    return writer(out, count=count, size=size, seed=seed)
