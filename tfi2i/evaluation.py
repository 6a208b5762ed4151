"""`tfi2i evaluate`: translate a dataset split and score the translations, or score two folders.

Metrics
  fid, kid (+ kid_std), precision, recall   translations vs real images of the output domain,
                                            on feature-extractor features (any data)
  pixel_accuracy, l1, psnr, ssim            translation vs its known target: paired layouts, or
                                            <split>A_truth/ (a2b) / <split>B_truth/ (b2a) beside an
                                            unaligned split (the synthetic data writes testA_truth/)
  cycle_l1                                  |F(G(x)) - x| in [-1, 1]; runs of two-way models
"""

import contextlib
import dataclasses
import json
import os

import numpy as np

from tfi2i import batching, translators
from tfi2i.data import augment, folders
from tfi2i.errors import Tfi2iError
from tfi2i.metrics import fid, kid, paired, precision_recall

DISTRIBUTION_METRICS = ("fid", "kid", "precision", "recall")
ALL_METRICS = (*DISTRIBUTION_METRICS, *paired.PAIRED_METRICS, "cycle_l1")
RESULT_ORDER = ("fid", "kid", "kid_std", "precision", "recall", *paired.PAIRED_METRICS, "cycle_l1")


@dataclasses.dataclass(frozen=True)
class ImageRef:
    """An image on disk, or the left / right half of an aligned A|B file."""

    path: str
    half: str = None  # None, "left" or "right"

    def load(self, channels):
        """float32 [H, W, channels] in [-1, 1], decoded as training decodes."""
        image = augment.decode(self.path, channels)
        if self.half:
            left, right = augment.split_aligned(image)
            image = left if self.half == "left" else right
        return image.numpy() / 127.5 - 1.0


@dataclasses.dataclass(frozen=True)
class EvaluationSet:
    sources: tuple  # ImageRefs to translate
    targets: tuple  # their known translations (ImageRefs), or None
    reals: tuple  # ImageRefs of the output domain


def detect_layout(root, split):
    for layout in ("unaligned", "paired_folders", "aligned"):
        if folders.has_split(root, layout, split):
            return layout
    raise Tfi2iError(
        f"'{root}' holds no '{split}' split ({split}A/ + {split}B/, A/{split}/ + B/{split}/, or {split}/); "
        f"check --data and --split"
    )


def evaluation_set(root, split, reverse):
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


@dataclasses.dataclass
class Scoring:
    """What the metrics need besides the images, and their settings."""

    metrics: tuple = None  # None: every metric the data and model allow
    extractor: object = None  # a feature extractor, when a distribution metric is asked for
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    k: int = 3  # precision / recall neighbourhood
    pixel_threshold: int = 16
    batch_size: int = 8


def needs_features(metrics):
    """Whether `metrics` (None: the defaults) include one scored on features."""
    return metrics is None or bool(set(metrics) & set(DISTRIBUTION_METRICS))


def check_metrics(names):
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown:
        raise Tfi2iError(f"unknown metric '{unknown[0]}'; pick from {', '.join(ALL_METRICS)}")
    return tuple(names)


def score(fakes, reals, scoring, targets=None, sources=None, reconstructed=None, on_done=None):
    """{metric: value} for translated images `fakes` (lists of float [H, W, C] arrays);
    `on_done(n)` is told as n more images go through the feature extractor."""
    try:
        return _score(fakes, reals, scoring, targets, sources, reconstructed, on_done)
    except ValueError as error:  # too few images for a metric
        raise Tfi2iError(f"{error}; score more images, or leave that metric out of the metrics") from None


def _score(fakes, reals, scoring, targets, sources, reconstructed, on_done):
    asked = set(scoring.metrics)
    results = {}
    if asked & set(DISTRIBUTION_METRICS):
        real_features = np.stack(batching.apply_by_size(scoring.extractor, reals, scoring.batch_size, on_done))
        fake_features = np.stack(batching.apply_by_size(scoring.extractor, fakes, scoring.batch_size, on_done))
        if "fid" in asked:
            results["fid"] = fid.fid(real_features, fake_features)
        if "kid" in asked:
            results["kid"], results["kid_std"] = kid.kid(
                real_features, fake_features, scoring.kid_subset_size, scoring.kid_subsets)
        if asked & {"precision", "recall"}:
            results["precision"], results["recall"] = precision_recall.precision_recall(
                real_features, fake_features, scoring.k)
    paired_asked = [m for m in paired.PAIRED_METRICS if m in asked]
    if paired_asked:
        results.update(paired.paired_scores(zip(fakes, targets), paired_asked, scoring.pixel_threshold))
    if "cycle_l1" in asked:
        results["cycle_l1"] = float(np.mean([paired.l1(r, s) for r, s in zip(reconstructed, sources, strict=True)]))
    return {name: results[name] for name in RESULT_ORDER if name in results}


class _Silent:
    def update(self, n):
        pass


def silent(label, length):
    return contextlib.nullcontext(_Silent())


def evaluate_model(model_path, scoring, data_root=None, direction=None, split="test", checkpoint="latest",
                   progress=silent):
    """(record, default JSON path) of a model's translations of a split.

    `progress(label, length)` is a context manager giving an object with `update(n)`.
    """
    translator = translators.load(model_path, direction, checkpoint)
    config = translator.config
    if data_root is None:
        if config is None:
            raise Tfi2iError(f"'{model_path}' is an export, so it knows no dataset; give --data DIR")
        data_root = config.data.root or os.path.join(model_path, "data")
    reverse = (translator.direction == "b2a") != (config is not None and config.data.direction == "b2a")
    images = evaluation_set(data_root, split, reverse)
    other = "b2a" if translator.direction == "a2b" else "a2b"
    two_way = config is not None and other in translators.directions(config)
    scoring = applicable_scoring(scoring, images, two_way, split)
    back = translators.load(model_path, other, checkpoint) if "cycle_l1" in scoring.metrics else None
    results = score_translator(translator, back, images, scoring, progress)

    record = {
        "model": translator.source,
        "direction": translator.direction,
        "step": translator.step,
        "data": data_root,
        "split": split,
        "images": len(images.sources),
        "real_images": len(images.reals),
        "metrics": results,
    }
    return record, default_json_path(model_path, translator, split)


def applicable_scoring(scoring, images, two_way, split, with_features=True):
    """`scoring` with its metrics defaulted to what `images` and the model allow (metrics=None;
    the feature metrics only `with_features`), or checked against that."""
    if scoring.metrics is None:
        applicable = (*(DISTRIBUTION_METRICS if with_features else ()),
                      *(paired.PAIRED_METRICS if images.targets else ()),
                      *(("cycle_l1",) if two_way else ()))
        scoring = dataclasses.replace(scoring, metrics=applicable)
    fewest = min(len(images.sources), len(images.reals))
    needed = max([2 if m in ("fid", "kid") else scoring.k + 1 for m in scoring.metrics if m in DISTRIBUTION_METRICS],
                 default=1)
    if fewest < needed:
        raise Tfi2iError(
            f"the {split} split has {fewest} images on one side, and {', '.join(DISTRIBUTION_METRICS)} need at least "
            f"{needed}; use a larger split or leave those out of the metrics"
        )
    if images.targets is None and set(scoring.metrics) & set(paired.PAIRED_METRICS):
        raise Tfi2iError(
            f"the {split} split has no known targets, so {', '.join(paired.PAIRED_METRICS)} cannot be scored; "
            f"leave them out of the metrics (unpaired data: add {split}A_truth/ for them)"
        )
    if "cycle_l1" in scoring.metrics and not two_way:
        raise Tfi2iError("cycle_l1 needs both directions of a two-way run; leave cycle_l1 out of the metrics")
    return scoring


def score_translator(translator, back, images, scoring, progress=silent):
    """{metric: value} of `translator` on an EvaluationSet; `back` translates back for cycle_l1."""
    sources = [ref.load(translator.input_channels) for ref in images.sources]
    with progress("translating", len(sources)) as bar:
        fakes = translate_all(translator, sources, scoring.batch_size, bar.update)
    reconstructed = None
    if back is not None:
        with progress("translating back", len(fakes)) as bar:
            reconstructed = translate_all(back, fakes, scoring.batch_size, bar.update)
    reals = [ref.load(translator.output_channels) for ref in images.reals]
    targets = [ref.load(translator.output_channels) for ref in images.targets] if images.targets else None
    with_features = bool(set(scoring.metrics) & set(DISTRIBUTION_METRICS))
    with (progress if with_features else silent)("features", len(reals) + len(fakes)) as bar:
        return score(fakes, reals, scoring, targets, sources, reconstructed, bar.update)


def default_json_path(model_path, translator, split):
    """Beside the run (RUN_DIR/evaluation/) or beside the export's versions (BASE/NAME/evaluation/)."""
    name = f"{split}_{translator.direction}_step{translator.step}.json"
    if translator.config is not None:
        return os.path.join(model_path, "evaluation", name)
    version_dir = os.path.dirname(translator.source.rstrip(os.sep))
    return os.path.join(version_dir, "evaluation", f"v{os.path.basename(translator.source)}_{name}")


def evaluate_folders(real_dir, fake_dir, scoring, progress=silent):
    """Scores the images of `fake_dir` against those of `real_dir`; the paired metrics need a
    real image of the same name (any extension) for every fake one."""
    real_paths, fake_paths = (_images_of(d) for d in (real_dir, fake_dir))
    stem = lambda path, root: os.path.splitext(os.path.relpath(path, root))[0]  # noqa: E731
    real_by_stem = {stem(p, real_dir): p for p in real_paths}
    unmatched = next((p for p in fake_paths if stem(p, fake_dir) not in real_by_stem), None)
    if scoring.metrics is None:
        scoring = dataclasses.replace(
            scoring, metrics=(*DISTRIBUTION_METRICS, *(() if unmatched else paired.PAIRED_METRICS)))
    paired_asked = [m for m in scoring.metrics if m in paired.PAIRED_METRICS]
    if "cycle_l1" in scoring.metrics:
        raise Tfi2iError("cycle_l1 needs a model; leave it out of --metrics when scoring two folders")
    if paired_asked and unmatched:
        raise Tfi2iError(
            f"'{unmatched}' has no image of the same name in '{real_dir}', so {', '.join(paired_asked)} "
            "cannot be scored; leave them out of --metrics"
        )
    fakes = [ImageRef(p).load(3) for p in fake_paths]
    reals = [ImageRef(p).load(3) for p in real_paths]
    targets = [ImageRef(real_by_stem[stem(p, fake_dir)]).load(3) for p in fake_paths] if paired_asked else None
    with progress("features", len(reals) + len(fakes)) as bar:
        results = score(fakes, reals, scoring, targets, on_done=bar.update)
    return {"real": real_dir, "fake": fake_dir, "images": len(fakes), "real_images": len(reals), "metrics": results}


def _images_of(folder):
    if not os.path.isdir(folder):
        raise Tfi2iError(f"folder '{folder}' does not exist")
    paths = folders.list_images(folder)
    if not paths:
        raise Tfi2iError(f"folder '{folder}' holds no images ({', '.join(folders.IMAGE_EXTENSIONS)})")
    return paths


def translate_all(translator, images, batch_size, on_done=None):
    return batching.apply_by_size(lambda batch: np.asarray(translator(batch)), images, batch_size, on_done)


def format_table(results):
    lines = [f"{'metric':<16}value"]
    for name, value in results.items():
        if name == "kid_std":
            continue
        shown = f"{value:.4f}" + (f" +- {results['kid_std']:.4f}" if name == "kid" else "")
        lines.append(f"{name:<16}{shown}")
    return "\n".join(lines)


def write_json(path, record):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
