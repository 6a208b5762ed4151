"""Which metrics are scored on an image set, and scoring them.

Metrics
  fid, kid (+ kid_std), precision, recall   translations vs real images of the output domain,
                                            on feature-extractor features (any data); fid also
                                            against saved statistics (real_stats)
  inception_score (+ inception_score_std)   the translations alone, from an extractor with
                                            logits (inception_2015)
  pixel_accuracy, l1, psnr, ssim            translation vs its known target: paired layouts, or
                                            <split>A_truth/ (a2b) / <split>B_truth/ (b2a) beside an
                                            unaligned split (the synthetic data writes testA_truth/)
  cycle_l1                                  |F(G(x)) - x| in [-1, 1]; runs of two-way models

`plan` is the one place that picks the metrics (those asked for, or every one the images and
the model allow) and builds the feature extractor they need: `tfi2i evaluate` and the metric
pass during training both go through it.
"""

import contextlib
import dataclasses

import numpy as np

from tfi2i import batching, registry
from tfi2i.data import images as images_lib
from tfi2i.errors import Tfi2iError
from tfi2i.metrics import features, fid, inception_score, kid, paired, precision_recall

TWO_SET_METRICS = ("fid", "kid", "precision", "recall")  # translations against real images
FEATURE_METRICS = (*TWO_SET_METRICS, "inception_score")
ALL_METRICS = (*FEATURE_METRICS, *paired.PAIRED_METRICS, "cycle_l1")
RESULT_ORDER = ("fid", "kid", "kid_std", "precision", "recall", "inception_score", "inception_score_std",
                *paired.PAIRED_METRICS, "cycle_l1")


@dataclasses.dataclass
class Scoring:
    """What the metrics need besides the images, and their settings."""

    metrics: tuple = None  # None: every metric the data and model allow
    extractor: object = None  # a feature extractor, when a feature metric is asked for
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    k: int = 3  # precision / recall neighbourhood
    is_splits: int = 10  # Inception Score
    resize: str = None  # the extractor's resize mode (None: its own default)
    real_stats: str = None  # an .npz of mu / sigma: FID against these instead of the real images
    save_stats: str = None  # where to write the real images' mu / sigma as .npz
    pixel_threshold: int = 16
    batch_size: int = 8
    max_pixels: int = images_lib.DEFAULT_MAX_PIXELS  # larger images are refused before decoding


def check_metrics(names):
    """`names` as a tuple, each checked to be a metric; None stays None (the defaults)."""
    if names is None:
        return None
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown:
        raise Tfi2iError(f"unknown metric '{unknown[0]}'; pick from {', '.join(ALL_METRICS)}")
    return tuple(names)


def needs_features(metrics):
    return bool(set(metrics) & set(FEATURE_METRICS))


def protocol(scoring):
    """How the feature metrics were computed: the extractor's own record (network, weights'
    SHA-256, resize mode), and the statistics FID was scored against."""
    if not needs_features(scoring.metrics):
        return {}
    record = dict(getattr(scoring.extractor, "protocol", {"feature_network": type(scoring.extractor).__name__}))
    if scoring.real_stats:
        record["real_statistics"] = scoring.real_stats
    if "inception_score" in scoring.metrics:
        record["inception_score_splits"] = scoring.is_splits
    return record


def plan(scoring, images, two_way, split=None, *, with_features=True, extractor_name="inception_v3", weights=None,
         hint=None):
    """`scoring` for an EvaluationSet (of a dataset split, or of two folders: split None): its
    metrics picked, checked against what `images` and the model allow, and the feature
    extractor (`extractor_name`, built with `weights`) where they need one and it has none.

    Left to the defaults (metrics=None), the metrics are the feature ones (`with_features`),
    the paired ones where the images have targets, and cycle_l1 for a two-way model. If the
    defaults' extractor cannot be built, `hint` (its `{metrics}` filled with the other default
    metrics) is added to the error."""
    where = f"the {split} split" if split else "the pair of folders"
    metrics = check_metrics(scoring.metrics)
    defaulted = metrics is None
    if defaulted:
        metrics = (*(FEATURE_METRICS if with_features else ()),
                   *(paired.PAIRED_METRICS if images.targets else ()),
                   *(("cycle_l1",) if two_way else ()))
    if defaulted and len(images.sources) < scoring.is_splits:  # too few for the score's splits
        metrics = tuple(m for m in metrics if m != "inception_score")
    if defaulted and not images.reals:  # translations and saved statistics alone: FID and IS
        metrics = tuple(m for m in metrics if m not in ("kid", "precision", "recall"))
    against_reals = [m for m in metrics if m in TWO_SET_METRICS and not (m == "fid" and scoring.real_stats)]
    fewest = min(len(images.sources), len(images.reals)) if against_reals or scoring.save_stats else len(images.sources)
    needed = max([2 if m in ("fid", "kid") else scoring.k + 1 for m in metrics if m in TWO_SET_METRICS], default=1)
    if fewest < needed:
        raise Tfi2iError(
            f"{where} has {fewest} images on one side, and {', '.join(TWO_SET_METRICS)} need at least "
            f"{needed}; use a larger split or leave those out of the metrics"
        )
    if images.targets is None and set(metrics) & set(paired.PAIRED_METRICS):
        raise Tfi2iError(
            f"{where} has no known targets, so {', '.join(paired.PAIRED_METRICS)} cannot be scored; "
            f"leave them out of the metrics (unpaired data: add {split}A_truth/ for them)"
        )
    if "cycle_l1" in metrics and not two_way:
        raise Tfi2iError("cycle_l1 needs both directions of a two-way run; leave cycle_l1 out of the metrics")
    extractor = scoring.extractor
    if "inception_score" in metrics:  # before the extractor is built: its class tells
        metrics = _with_logits_or_without_score(metrics, extractor or registry.load(features.GROUP, extractor_name),
                                                extractor_name, defaulted)
    if extractor is None and needs_features(metrics):  # built last: the cheap checks come first
        try:
            extractor = features.build(extractor_name, weights, scoring.resize)
        except Tfi2iError as error:
            without = [m for m in metrics if m not in FEATURE_METRICS]
            if not (defaulted and hint and without):
                raise
            raise Tfi2iError(f"{error} ({hint.format(metrics=','.join(without))})") from None
    return dataclasses.replace(scoring, metrics=metrics, extractor=extractor)


def _with_logits_or_without_score(metrics, extractor, extractor_name, defaulted):
    """`metrics`, when the extractor (or its class) has the logits the Inception Score reads;
    else without the score if it was a default, or a one-line refusal if it was asked for."""
    if hasattr(extractor, "logits"):
        return metrics
    if not defaulted:
        raise Tfi2iError(
            f"inception_score needs class logits, which the '{extractor_name}' features lack; "
            f"use --features inception_2015"
        )
    return tuple(m for m in metrics if m != "inception_score")


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
    if needs_features(asked):
        extract = lambda images: np.stack(  # noqa: E731
            batching.apply_by_size(scoring.extractor, images, scoring.batch_size, on_done))
        fake_features = extract(fakes)
        needs_reals = asked & {"kid", "precision", "recall"} or ("fid" in asked and not scoring.real_stats)
        real_features = extract(reals) if needs_reals or scoring.save_stats else None
        if scoring.save_stats:
            fid.save_statistics(scoring.save_stats, *fid.gaussian(real_features))
        if "fid" in asked:
            if scoring.real_stats:
                real_gaussian = fid.load_statistics(scoring.real_stats, fake_features.shape[1])
            else:
                real_gaussian = fid.gaussian(real_features)
            results["fid"] = fid.frechet_distance(*real_gaussian, *fid.gaussian(fake_features))
        if "inception_score" in asked:
            results["inception_score"], results["inception_score_std"] = inception_score.inception_score(
                scoring.extractor.logits(fake_features), scoring.is_splits)
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
    """A progress reporter that reports nothing."""
    return contextlib.nullcontext(_Silent())


def score_translator(translator, back, images, scoring, progress=silent):
    """{metric: value} of `translator` on an EvaluationSet; `back` translates back for cycle_l1.

    A translator is called on float32 [N, H, W, C] in [-1, 1] and has `input_channels` and
    `output_channels`. `progress(label, length)` is a context manager giving an object with
    `update(n)`."""
    sources = [ref.load(translator.input_channels, scoring.max_pixels) for ref in images.sources]
    with progress("translating", len(sources)) as bar:
        fakes = translate_all(translator, sources, scoring.batch_size, bar.update)
    reconstructed = None
    if back is not None:
        with progress("translating back", len(fakes)) as bar:
            reconstructed = translate_all(back, fakes, scoring.batch_size, bar.update)
    reals = [ref.load(translator.output_channels, scoring.max_pixels) for ref in images.reals]
    targets = [ref.load(translator.output_channels, scoring.max_pixels) for ref in images.targets] if images.targets else None
    check_pair_sizes(fakes, targets, [f"the translation of '{ref.path}'" for ref in images.sources], images.targets)
    with (progress if needs_features(scoring.metrics) else silent)("features", len(reals) + len(fakes)) as bar:
        return score(fakes, reals, scoring, targets, sources, reconstructed, bar.update)


def check_pair_sizes(fakes, targets, fake_names, target_refs):
    """Refuses a (fake, target) pair of two sizes in one line naming both files."""
    for fake, target, name, ref in zip(fakes, targets or (), fake_names, target_refs or ()):
        if np.shape(fake)[:2] != np.shape(target)[:2]:
            (fh, fw), (th, tw) = np.shape(fake)[:2], np.shape(target)[:2]
            raise Tfi2iError(
                f"{name} is {fw}x{fh} but its target '{ref.path}'{' (' + ref.half + ' half)' if ref.half else ''} "
                f"is {tw}x{th}; the paired metrics compare images of one size"
            )


def translate_all(translator, images, batch_size, on_done=None):
    return batching.apply_by_size(lambda batch: np.asarray(translator(batch)), images, batch_size, on_done)


def format_table(results):
    lines = [f"{'metric':<16}value"]
    for name, value in results.items():
        if name.endswith("_std"):
            continue
        spread = results.get(f"{name}_std")
        shown = f"{value:.4f}" + (f" +- {spread:.4f}" if spread is not None else "")
        lines.append(f"{name:<16}{shown}")
    return "\n".join(lines)


def format_protocol(protocol):
    """The protocol as one line under the table: what a reader needs to compare the scores."""
    return "protocol: " + ", ".join(f"{key} {value}" for key, value in protocol.items() if value is not None)
