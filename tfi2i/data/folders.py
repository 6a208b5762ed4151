"""Dataset layouts on disk and the image files they hold.

aligned         <root>/<split>/*.png, each image A|B side by side (the reference layout).
paired_folders  <root>/A/<split>/x.png and <root>/B/<split>/x.png, paired by file name.
unaligned       <root>/<split>A/*.png and <root>/<split>B/*.png, not paired (CycleGAN, UNIT).
"""

import collections
import dataclasses
import os

from PIL import Image

from tfi2i.data import images
from tfi2i.errors import Tfi2iError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclasses.dataclass(frozen=True)
class PairedFiles:
    """Paired examples: a_paths[i] pairs with b_paths[i]; aligned files hold both halves."""

    a_paths: tuple
    b_paths: tuple
    aligned: bool
    notes: tuple = dataclasses.field(default=(), compare=False)  # what was left out, for the log

    def __len__(self):
        return len(self.a_paths)

    @property
    def all_paths(self):
        return tuple(dict.fromkeys(self.a_paths + self.b_paths))


@dataclasses.dataclass(frozen=True)
class UnpairedFiles:
    a_paths: tuple
    b_paths: tuple
    notes: tuple = dataclasses.field(default=(), compare=False)

    def __len__(self):
        return max(len(self.a_paths), len(self.b_paths))

    @property
    def all_paths(self):
        return self.a_paths + self.b_paths


def list_images(folder):
    """Every image file under `folder` (recursively), sorted for a stable order."""
    found = []
    for parent, _, names in os.walk(folder):
        found += [os.path.join(parent, n) for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def _other_files(folder):
    """{extension: count} of the files under `folder` that are not images tfi2i reads (hidden
    files aside)."""
    kinds = collections.Counter()
    for _, _, names in os.walk(folder):
        kinds.update(os.path.splitext(n)[1].lower() or "(no extension)" for n in names
                     if not n.startswith(".") and not n.lower().endswith(IMAGE_EXTENSIONS))
    return kinds


def _listing(kinds):
    return ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))


def left_out(folder):
    """A note on the files under `folder` that a dataset leaves out, or None."""
    kinds = _other_files(folder)
    if not kinds:
        return None
    return (f"note: left out {sum(kinds.values())} files in '{folder}' that are not "
            f"{'/'.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)} images ({_listing(kinds)}); "
            "convert them to include them")


def _present(*notes):
    return tuple(note for note in notes if note)


def _images_in(folder, what):
    if not os.path.isdir(folder):
        raise Tfi2iError(f"dataset folder '{folder}' does not exist; {what}")
    paths = list_images(folder)
    if not paths:
        others = _other_files(folder)
        raise Tfi2iError(
            f"dataset folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            f"{f', only {_listing(others)} files (convert them)' if others else ''}; {what}"
        )
    return paths


def find_paired(root, layout, split, max_size=None):
    if layout == "aligned":
        paths = _images_in(
            os.path.join(root, split),
            "check data.root (the aligned layout is <root>/<split>/*.png with A|B side by side)",
        )[:max_size]
        return PairedFiles(tuple(paths), tuple(paths), aligned=True, notes=_present(left_out(os.path.join(root, split))))
    if layout == "paired_folders":
        hint = "check data.root (the paired_folders layout is <root>/A/<split>/ and <root>/B/<split>/)"
        a_paths = _images_in(os.path.join(root, "A", split), hint)[:max_size]
        b_dir = os.path.join(root, "B", split)
        b_by_name = {os.path.relpath(p, b_dir): p for p in _images_in(b_dir, hint)}
        a_dir = os.path.join(root, "A", split)
        b_paths = []
        for a in a_paths:
            name = os.path.relpath(a, a_dir)
            if name not in b_by_name:
                raise Tfi2iError(f"'{a}' has no partner '{os.path.join(b_dir, name)}'; add it or remove '{a}'")
            b_paths.append(b_by_name[name])
        a_names = {os.path.relpath(a, a_dir) for a in _images_in(a_dir, hint)}
        alone = sum(name not in a_names for name in b_by_name)
        alone_note = (f"note: left out {alone} images in '{b_dir}' with no partner of the same name in '{a_dir}'"
                      if alone else None)
        return PairedFiles(tuple(a_paths), tuple(b_paths), aligned=False, notes=_present(left_out(a_dir), left_out(b_dir), alone_note))
    raise Tfi2iError(f"layout '{layout}' holds unpaired data; this model needs aligned or paired_folders")


def find_unpaired(root, split, max_size=None):
    hint = "check data.root (the unaligned layout is <root>/<split>A/ and <root>/<split>B/)"
    a_paths = _images_in(os.path.join(root, f"{split}A"), hint)[:max_size]
    b_paths = _images_in(os.path.join(root, f"{split}B"), hint)[:max_size]
    return UnpairedFiles(tuple(a_paths), tuple(b_paths),
                         notes=_present(left_out(os.path.join(root, f"{split}A")), left_out(os.path.join(root, f"{split}B"))))


def has_split(root, layout, split):
    if layout == "aligned":
        return os.path.isdir(os.path.join(root, split))
    if layout == "paired_folders":
        return os.path.isdir(os.path.join(root, "A", split))
    return os.path.isdir(os.path.join(root, f"{split}A"))


def _unreadable_reason(path, full):
    try:
        with Image.open(path) as image:
            if full:
                image.load()
            else:
                image.verify()
    except Exception as error:  # PIL raises many types for bad files.
        return f"{type(error).__name__}: {error}"
    return None


def verify_images(paths, aligned=False):
    """Checks every file's header (tfi2i.data.images: format, size, pixel limit, and for
    `aligned` A|B files room for two halves) and its structure; raises a one-line error naming
    the first bad file."""
    for path in paths:
        reason = images.header_problem(path, min_width=2 if aligned else 1) or _unreadable_reason(path, full=False)
        if reason:
            raise Tfi2iError(f"'{path}' is not a readable image ({reason}); replace or remove it")


def check_batchable(paths, preprocess, batch_size):
    """Modes without a crop keep each image's own size, so a batch needs one size for all."""
    if batch_size == 1 or preprocess not in ("scale_width", "none"):
        return
    first = None
    for path in paths:
        with Image.open(path) as image:
            if first is None:
                first = (path, image.size)
            elif image.size != first[1]:
                raise Tfi2iError(
                    f"'{path}' is {image.size[0]}x{image.size[1]} but '{first[0]}' is "
                    f"{first[1][0]}x{first[1][1]}, so preprocess '{preprocess}' cannot batch them; "
                    f"set train.batch_size=1 or a cropping data.preprocess"
                )


def find_unreadable(paths):
    """The first file that fails a full decode, or None; used to name a file TF failed on."""
    return next((p for p in paths if _unreadable_reason(p, full=True)), None)
