"""The facades data both sides of tools/parity.py train on, and the task measures both are scored
by: label accuracy and mean IoU through the found label palette, L1 / PSNR / SSIM to the photo,
and two scores of no translation at all, for scale."""

import glob
import os
import shutil

import numpy as np
from PIL import Image

CLASSES = 12  # the CMP facade classes

# --- data -------------------------------------------------------------------------------

def prepare_data(source, work, task):
    """The layout the task trains on, copied from `source` (never written to) into `work`."""
    if task != "cyclegan":
        root = os.path.join(work, "facades")
        if not os.path.isdir(root):
            shutil.copytree(source, root)
        return root
    root = os.path.join(work, "facades_unpaired")
    if not os.path.isdir(root):
        files = sorted(glob.glob(os.path.join(source, "train", "*.jpg")))
        half = len(files) // 2
        for folder, chosen, side in (("trainA", files[:half], 0), ("trainB", files[half:], 1)):
            os.makedirs(os.path.join(root, folder))
            for path in chosen:
                halves = split_halves(Image.open(path).convert("RGB"))
                halves[side].save(os.path.join(root, folder, os.path.basename(path)[:-4] + ".png"))
    return root


def split_halves(image):
    width, height = image.size
    return image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width // 2 * 2, height))


def held_out(source, size, split="val"):
    """(photos, label maps) of a split as float [N, size, size, 3] in [-1, 1], each half
    resized with PIL's bicubic, as both sides' test-time preprocessing."""
    photos, labels = [], []
    for path in sorted(glob.glob(os.path.join(source, split, "*.jpg"))):
        for half, out in zip(split_halves(Image.open(path).convert("RGB")), (photos, labels)):
            out.append(np.asarray(half.resize((size, size), Image.BICUBIC), np.float32) / 127.5 - 1.0)
    return np.stack(photos), np.stack(labels)



def task_sources(task, photos, labels):
    """{direction: the held-out images it translates} for the task."""
    return {"a2b": labels if task == "labels2photo" else photos, "b2a": labels}


# --- metrics ----------------------------------------------------------------------------------

def label_palette(source, samples=200_000, iterations=25, seed=0):
    """The label maps' CLASSES colours (0-255), by k-means over interior pixels of the training
    maps: the maps carry JPEG noise and blended edges, so the palette is found, not listed,
    from pixels whose 4 neighbours are within a few levels of them."""
    rng = np.random.default_rng(seed)
    interior = []
    for path in sorted(glob.glob(os.path.join(source, "train", "*.jpg"))):
        image = np.asarray(split_halves(Image.open(path).convert("RGB"))[1], np.float32)
        centre = image[1:-1, 1:-1]
        spread = np.max([np.abs(centre - image[1 + dy:image.shape[0] - 1 + dy, 1 + dx:image.shape[1] - 1 + dx]).max(-1)
                         for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))], axis=0)
        interior.append(centre[spread < 8])
    pixels = np.concatenate(interior)
    pixels = pixels[rng.choice(len(pixels), min(samples, len(pixels)), replace=False)]
    # k-means++ seeding, then Lloyd iterations.
    centres = [pixels[rng.integers(len(pixels))]]
    for _ in range(CLASSES - 1):
        distance = np.min([np.sum((pixels - c) ** 2, axis=1) for c in centres], axis=0)
        centres.append(pixels[rng.choice(len(pixels), p=distance / distance.sum())])
    centres = np.array(centres)
    for _ in range(iterations):
        nearest = nearest_class(pixels, centres)
        centres = np.array([pixels[nearest == k].mean(axis=0) if np.any(nearest == k) else centres[k]
                            for k in range(CLASSES)])
    return centres


def nearest_class(pixels, palette):
    """Index of the nearest palette colour for each of [..., 3] pixels (0-255)."""
    flat = pixels.reshape(-1, 3)
    distance = ((flat[:, None, :] - palette[None]) ** 2).sum(-1)
    return distance.argmin(axis=1).reshape(pixels.shape[:-1])


def label_scores(fake, real, palette):
    """Per-pixel class accuracy and mean IoU (over classes present in either map) of
    translations against true label maps, both float [N, H, W, 3] in [-1, 1]."""
    to_levels = lambda x: (np.clip(x, -1, 1) + 1.0) * 127.5  # noqa: E731
    predicted, truth = nearest_class(to_levels(fake), palette), nearest_class(to_levels(real), palette)
    ious = []
    for k in range(CLASSES):
        union = np.sum((predicted == k) | (truth == k))
        if union:
            ious.append(np.sum((predicted == k) & (truth == k)) / union)
    return {"accuracy": float(np.mean(predicted == truth)), "mean_iou": float(np.mean(ious))}


def majority_class_scores(labels, palette):
    """The label scores of maps painted all in the most common class of the true maps: a
    translation that scores less accuracy than this has not learned more than that class's
    share (a generator that paints mostly one class can out-score a better one on accuracy,
    not on IoU)."""
    truth = nearest_class((np.clip(labels, -1, 1) + 1.0) * 127.5, palette)
    common = np.bincount(truth.ravel(), minlength=CLASSES).argmax()
    painted = np.broadcast_to(palette[common] / 127.5 - 1.0, labels.shape)
    return label_scores(painted, labels, palette)


def mean_photo_scores(source, photos):
    """The photo scores of the mean training photo given for every input: L1 and PSNR reward
    an output near the mean, so a translation that scores less than this on them has not yet
    learned more than the average facade (SSIM, which weighs structure, is harder to fake)."""
    train_photos, _ = held_out(source, photos.shape[1], split="train")
    return photo_scores(np.broadcast_to(train_photos.mean(axis=0), photos.shape), photos)


def photo_scores(fake, real):
    from tfi2i.metrics import paired  # noqa: WPS433 (imported where the TF side is wanted)

    pairs = list(zip(fake, real))
    scores = paired.paired_scores(pairs, metrics=("l1", "psnr", "ssim"))
    return {name: scores[name] for name in ("l1", "psnr", "ssim")}


def task_scores(task, translations, photos, labels, palette, photo_measure=None):
    """The task's scores; `photo_measure(fake, real)` scores photos (default: photo_scores)."""
    photo_measure = photo_measure or photo_scores
    if task == "photo2labels":
        return label_scores(translations["a2b"], labels, palette)
    if task == "labels2photo":
        return photo_measure(translations["a2b"], photos)
    scores = {f"p2l_{k}": v for k, v in label_scores(translations["a2b"], labels, palette).items()}
    scores.update({f"l2p_{k}": v for k, v in photo_measure(translations["b2a"], photos).items()})
    return scores
