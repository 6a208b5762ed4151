"""The images an evaluation scores: a dataset split's sources, their known targets and the real
images of the output domain, read as training reads them."""

import dataclasses
import os

import numpy as np

from tfi2i import pixels
from tfi2i.data import augment, folders, images
from tfi2i.errors import Tfi2iError


@dataclasses.dataclass(frozen=True)
class ImageRef:
    """An image on disk, or the left / right half of an aligned A|B file."""

    path: str
    half: str = None  # None, "left" or "right"

    def load(self, channels, max_pixels=images.DEFAULT_MAX_PIXELS):
        """float32 [H, W, channels] in [-1, 1], decoded as training decodes; an unreadable file
        raises a one-line images.UnreadableImage."""
        image = images.read(self.path, channels, max_pixels, limit_name="--max-pixels")
        if self.half:
            left, right = augment.split_aligned(image)
            image = np.asarray(left if self.half == "left" else right)
        return pixels.to_unit_range(image)


@dataclasses.dataclass(frozen=True)
class EvaluationSet:
    sources: tuple  # ImageRefs to translate (of translations already made, for two folders)
    targets: tuple  # their known translations (ImageRefs), or None
    reals: tuple  # ImageRefs of the output domain

    def head(self, count):
        """The first `count` images of each part."""
        return EvaluationSet(self.sources[:count], self.targets[:count] if self.targets else None, self.reals[:count])


def detect_layout(root, split):
    for layout in ("unaligned", "paired_folders", "aligned"):
        if folders.has_split(root, layout, split):
            return layout
    raise Tfi2iError(
        f"'{root}' holds no '{split}' split ({split}A/ + {split}B/, A/{split}/ + B/{split}/, or {split}/); "
        f"check --data and --split"
    )


def from_split(root, split, reverse):
    """The images of `split` under `root` (layout detected); `reverse` reads it B -> A."""
    layout = detect_layout(root, split)
    if layout == "aligned":
        files = folders.find_paired(root, layout, split)
        a = tuple(ImageRef(p, "left") for p in files.a_paths)
        b = tuple(ImageRef(p, "right") for p in files.b_paths)
        return EvaluationSet(b, a, a) if reverse else EvaluationSet(a, b, b)
    if layout == "paired_folders":
        files = folders.find_paired(root, layout, split)
        a, b = tuple(map(ImageRef, files.a_paths)), tuple(map(ImageRef, files.b_paths))
        return EvaluationSet(b, a, a) if reverse else EvaluationSet(a, b, b)
    files = folders.find_unpaired(root, split)
    source_side = "B" if reverse else "A"
    sources = files.b_paths if reverse else files.a_paths
    reals = files.a_paths if reverse else files.b_paths
    truth_dir = os.path.join(root, f"{split}{source_side}_truth")
    targets = None
    if os.path.isdir(truth_dir):
        source_dir = os.path.join(root, f"{split}{source_side}")
        targets = tuple(ImageRef(os.path.join(truth_dir, os.path.relpath(p, source_dir))) for p in sources)
        missing = next((t.path for t in targets if not os.path.isfile(t.path)), None)
        if missing:
            raise Tfi2iError(f"'{truth_dir}' lacks '{os.path.basename(missing)}'; complete it or remove the folder")
    return EvaluationSet(tuple(map(ImageRef, sources)), targets, tuple(map(ImageRef, reals)))


def from_folders(real_dir, fake_dir):
    """(EvaluationSet, the first fake image without a real one of its name, or None): the
    translations in `fake_dir` (as sources) against the real images of `real_dir`. The targets
    are the real images of the same names (any extension); None unless every fake has one.
    With `real_dir` None the set has no real images (FID against saved statistics)."""
    if real_dir is None:
        return EvaluationSet(tuple(map(ImageRef, _images_of(fake_dir))), None, ()), None
    real_paths, fake_paths = (_images_of(d) for d in (real_dir, fake_dir))
    stem = lambda path, root: os.path.splitext(os.path.relpath(path, root))[0]  # noqa: E731
    real_by_stem = {stem(p, real_dir): p for p in real_paths}
    unmatched = next((p for p in fake_paths if stem(p, fake_dir) not in real_by_stem), None)
    targets = None if unmatched else tuple(ImageRef(real_by_stem[stem(p, fake_dir)]) for p in fake_paths)
    return EvaluationSet(tuple(map(ImageRef, fake_paths)), targets, tuple(map(ImageRef, real_paths))), unmatched


def _images_of(folder):
    if not os.path.isdir(folder):
        raise Tfi2iError(f"folder '{folder}' does not exist")
    paths = folders.list_images(folder)
    if not paths:
        raise Tfi2iError(f"folder '{folder}' holds no images ({', '.join(folders.IMAGE_EXTENSIONS)})")
    return paths
