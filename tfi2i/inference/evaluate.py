"""`tfi2i evaluate`: translate a dataset split with a model and score the translations, or score
two folders; the record written as JSON. What is scored is decided by evaluation.scoring.plan.
"""

import json
import os

from tfi2i.errors import Tfi2iError
from tfi2i.evaluation import image_sets, scoring as scoring_lib
from tfi2i.inference import export, translators
from tfi2i.metrics import paired as paired_metrics

WITHOUT_FEATURES = "or score without features: --metrics {metrics}"


def evaluate_model(model_path, scoring, data_root=None, direction=None, split="test", checkpoint="latest",
                   progress=scoring_lib.silent, extractor_name="inception_v3", weights=None, mode=None, num_test=None):
    """(record, default JSON path) of a model's translations of a split (its first `num_test`
    images when given), run in inference `mode` (translators.load).

    `progress(label, length)` is a context manager giving an object with `update(n)`; the
    feature extractor `extractor_name` (with `weights`) is built if the metrics need one and
    `scoring` has none.
    """
    translator = translators.load(model_path, direction, checkpoint, mode)
    config = translator.config
    if data_root is None:
        if config is None:
            raise Tfi2iError(f"'{model_path}' is an export, so it knows no dataset; give --data DIR")
        data_root = config.data.root or os.path.join(model_path, "data")
    reverse = (translator.direction == "b2a") != (config is not None and config.data.direction == "b2a")
    images = image_sets.from_split(data_root, split, reverse)
    if num_test:
        images = images.head(num_test)
    other = "b2a" if translator.direction == "a2b" else "a2b"
    two_way = config is not None and other in translators.directions(config)
    scoring = scoring_lib.plan(scoring, images, two_way, split, extractor_name=extractor_name, weights=weights,
                               hint=WITHOUT_FEATURES)
    back = translators.load(model_path, other, checkpoint, mode) if "cycle_l1" in scoring.metrics else None
    results = scoring_lib.score_translator(translator, back, images, scoring, progress)

    record = {
        "model": translator.source,
        "direction": translator.direction,
        "step": translator.step,
        "inference_mode": translator.mode,
        "data": data_root,
        "split": split,
        "images": len(images.sources),
        "real_images": len(images.reals),
        "metrics": results,
        "protocol": {
            **scoring_lib.protocol(scoring), "split": split, "images": len(images.sources),
            "real_images": len(images.reals), "checkpoint_step": translator.step,
            # A run's config hash, as an export of it records it (and an export gives its record).
            "config_sha256": translator.config_sha256 if config is None else export.config_hash(config),
        },
    }
    return record, default_json_path(model_path, translator, split)


def default_json_path(model_path, translator, split):
    """Beside the run (RUN_DIR/evaluation/) or beside the export's versions (BASE/NAME/evaluation/)."""
    mode = "_train_mode" if translator.mode == "train" else ""
    name = f"{split}_{translator.direction}_step{translator.step}{mode}.json"
    if translator.config is not None:
        return os.path.join(model_path, "evaluation", name)
    if os.path.isfile(translator.source):  # an .onnx or .tflite file
        return os.path.join(os.path.dirname(translator.source), "evaluation", f"{os.path.basename(translator.source)}_{name}")
    version_dir = os.path.dirname(translator.source.rstrip(os.sep))
    return os.path.join(version_dir, "evaluation", f"v{os.path.basename(translator.source)}_{name}")


def evaluate_folders(real_dir, fake_dir, scoring, progress=scoring_lib.silent, extractor_name="inception_v3",
                     weights=None):
    """Scores the images of `fake_dir` against those of `real_dir` (None: against
    `scoring.real_stats` alone); the paired metrics need a real image of the same name (any
    extension) for every fake one."""
    images, unmatched = image_sets.from_folders(real_dir, fake_dir)
    asked = scoring_lib.check_metrics(scoring.metrics) or ()
    if "cycle_l1" in asked:
        raise Tfi2iError("cycle_l1 needs a model; leave it out of --metrics when scoring two folders")
    paired_asked = [m for m in asked if m in paired_metrics.PAIRED_METRICS]
    if paired_asked and unmatched:
        raise Tfi2iError(
            f"'{unmatched}' has no image of the same name in '{real_dir}', so {', '.join(paired_asked)} "
            "cannot be scored; leave them out of --metrics"
        )
    scoring = scoring_lib.plan(scoring, images, two_way=False, extractor_name=extractor_name, weights=weights,
                               hint=WITHOUT_FEATURES)
    fakes = [ref.load(3, scoring.max_pixels) for ref in images.sources]
    reals = [ref.load(3, scoring.max_pixels) for ref in images.reals]
    paired = images.targets and set(scoring.metrics) & set(paired_metrics.PAIRED_METRICS)
    targets = [ref.load(3, scoring.max_pixels) for ref in images.targets] if paired else None
    if paired:
        scoring_lib.check_pair_sizes(fakes, targets, [f"'{ref.path}'" for ref in images.sources], images.targets)
    with progress("features", len(reals) + len(fakes)) as bar:
        results = scoring_lib.score(fakes, reals, scoring, targets, on_done=bar.update)
    return {"real": real_dir, "fake": fake_dir, "images": len(fakes), "real_images": len(reals), "metrics": results,
            "protocol": {**scoring_lib.protocol(scoring), "images": len(fakes), "real_images": len(reals)}}


def write_json(path, record):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
