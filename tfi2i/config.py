"""Typed configuration: YAML -> dataclasses, `--set a.b.c=value` overrides, validation.

Every key has a default here, so a config file names only what differs. Unknown keys and
wrong types are rejected with one line that names the key path and the closest valid key.
"""

import dataclasses
import typing
from typing import Any, Literal, Optional, Union

import yaml

from tfi2i.errors import Tfi2iError, did_you_mean

PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
CROPPING_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")


@dataclasses.dataclass
class PartConfig:
    """A registry entry (generator, discriminator) and the keyword arguments it is built with."""

    name: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class GanLossConfig:
    name: str = "vanilla"
    weight: float = 1.0
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class LossConfig:
    """One `tfi2i.losses` entry added to the generator objective."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Translation directions the loss applies to; None means every direction of the model.
    directions: Optional[list[Literal["a2b", "b2a"]]] = None


@dataclasses.dataclass
class ModelConfig:
    name: str = "pix2pix"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. cyclegan's pool_size
    # Params left out take the builder's own defaults (the reference's), so switching the
    # name never carries another network's settings along.
    generator: PartConfig = dataclasses.field(default_factory=lambda: PartConfig("unet"))
    discriminator: PartConfig = dataclasses.field(default_factory=lambda: PartConfig("patchgan"))
    gan_loss: GanLossConfig = dataclasses.field(default_factory=GanLossConfig)
    # The reference halves the discriminator objective to slow D relative to G.
    discriminator_loss_weight: float = 0.5


@dataclasses.dataclass
class SyntheticConfig:
    """The built-in synthetic dataset, generated into the run directory when enabled."""

    enabled: bool = False
    count: int = 64
    size: int = 64
    seed: int = 0


@dataclasses.dataclass
class DataConfig:
    root: Optional[str] = None
    layout: Literal["aligned", "paired_folders", "unaligned"] = "aligned"
    direction: Literal["a2b", "b2a"] = "a2b"
    train_split: str = "train"
    val_split: str = "val"
    input_nc: Literal[1, 3] = 3
    output_nc: Literal[1, 3] = 3
    preprocess: Literal[PREPROCESS_MODES] = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    max_dataset_size: Optional[int] = None
    synthetic: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)


@dataclasses.dataclass
class OptimizerConfig:
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = 1
    seed: int = 0
    # Epochs at the initial learning rate, then epochs of decay (reference: 100 + 100).
    n_epochs: int = 100
    n_epochs_decay: int = 100
    lr_policy: Literal["linear", "step", "cosine", "constant"] = "linear"
    lr_decay_epochs: int = 50  # step policy: multiply by 0.1 every this many epochs
    steps_per_epoch: Optional[int] = None  # default: every training example once per epoch
    save_every_epochs: int = 1
    keep_checkpoints: int = 3
    sample_every_epochs: int = 1
    num_samples: int = 4
    log_every_steps: int = 50
    val_steps: int = 0  # validation batches evaluated after each epoch; 0 turns it off
    jit_compile: bool = False
    mixed_precision: bool = False  # mixed_float16 on GPUs (loss-scaled), mixed_bfloat16 on CPUs
    # TensorFlow's thread pools: threads each op splits its work over, and ops run at once.
    # Unset: tfi2i's choice (without a GPU: half the cores per op, two ops at once);
    # 0: TensorFlow's (one thread per core for each).
    intra_op_threads: Optional[int] = None
    inter_op_threads: Optional[int] = None
    report: bool = True  # write RUN_DIR/report/index.html when training stops
    devices: Optional[list[str]] = None  # distribute: mirrored over these, e.g. [/gpu:0, /gpu:1]; default all GPUs
    # A metric pass on a fixed held-out subset every this many epochs (0: off); logged as eval/*.
    eval_every_epochs: int = 0
    eval_images: int = 16
    eval_metrics: Optional[list[str]] = None  # default: the paired metrics and cycle_l1 where they apply
    eval_feature_weights: Optional[str] = None  # InceptionV3 weights: adds fid, kid, precision, recall


@dataclasses.dataclass
class Config:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: list[LossConfig] = dataclasses.field(
        default_factory=lambda: [LossConfig("l1", weight=100.0)]
    )
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"


# --- building dataclasses from plain data -----------------------------------------------


def _type_name(tp):
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _is_optional(tp):
    return typing.get_origin(tp) is Union and type(None) in typing.get_args(tp)


def _non_none(tp):
    return next(a for a in typing.get_args(tp) if a is not type(None))


def _wrong_type(path, tp, value):
    return Tfi2iError(
        f"config key '{path}': expected {_type_name(tp)}, got {type(value).__name__} "
        f"{value!r}; fix the value in the config file or the --set override"
    )


def _coerce(value, tp, path):
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if _is_optional(tp):
        return None if value is None else _coerce(value, _non_none(tp), path)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool):
            raise Tfi2iError(
                f"config key '{path}': {value!r} is not one of "
                f"{', '.join(repr(c) for c in choices)}{did_you_mean(value, choices)}"
            )
        return value
    if origin is list:
        if not isinstance(value, list):
            raise _wrong_type(path, tp, value)
        (item_type,) = typing.get_args(tp)
        return [_coerce(item, item_type, f"{path}.{i}") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong_type(path, tp, value)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _wrong_type(path, tp, value)
        return _build(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _wrong_type(path, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong_type(path, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads "2e-4" as a string; accept what is plainly a number.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _wrong_type(path, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _wrong_type(path, tp, value)
    raise TypeError(f"unsupported config type {tp} at {path}")


def _fields(cls):
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unknown_key(path, key, known):
    full = f"{path}.{key}" if path else key
    return Tfi2iError(
        f"unknown config key '{full}'{did_you_mean(key, known)}; "
        f"valid keys here: {', '.join(known)}"
    )


def _build(cls, data, path=""):
    fields = _fields(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown_key(path, key, list(fields))
        kwargs[key] = _coerce(value, fields[key], f"{path}.{key}" if path else key)
    try:
        return cls(**kwargs)
    except TypeError:
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise Tfi2iError(
            f"config section '{path or '<root>'}' needs key(s) {', '.join(missing)}"
        ) from None


# --- overrides ---------------------------------------------------------------------------


def _child_type(tp, key, path):
    """The type found one step below `tp` at `key` (a field, a list index or a dict key)."""
    if _is_optional(tp):
        tp = _non_none(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        fields = _fields(tp)
        if key not in fields:
            raise _unknown_key(path, key, list(fields))
        return fields[key]
    if origin is list:
        if not key.isdigit():
            raise Tfi2iError(f"config key '{path}' is a list: index it with a number, not '{key}'")
        return typing.get_args(tp)[0]
    if origin is dict:
        return Any
    raise Tfi2iError(f"config key '{path}' holds a single value; '{key}' cannot be set under it")


def apply_override(raw, assignment):
    """Applies one `a.b.c=value` override to the raw config mapping, in place."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise Tfi2iError(f"--set expects KEY=VALUE (e.g. train.batch_size=4), got '{assignment}'")
    parts = key.strip().split(".")
    node, tp, path = raw, Config, ""
    for depth, part in enumerate(parts):
        tp = _child_type(tp, part, path)
        path = f"{path}.{part}" if path else part
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = int(part)
            if index >= len(node):
                raise Tfi2iError(
                    f"config key '{path}': the list has {len(node)} item(s); "
                    f"use an index below {len(node)}"
                )
            part = index
        if last:
            # A str field takes the text as it is ("123" stays a name); others are parsed.
            node[part] = text if tp is str else yaml.safe_load(text)
        else:
            child = node[part] if isinstance(node, list) else node.get(part)
            if child is None:
                child = [] if typing.get_origin(tp) is list else {}
                node[part] = child
            node = child


# --- loading, validation, saving -----------------------------------------------------------


def validate(config):
    data, train = config.data, config.train
    if data.root is None and not data.synthetic.enabled:
        raise Tfi2iError(
            "config key 'data.root' is not set; pass --set data.root=/path/to/dataset "
            "(or enable data.synthetic)"
        )
    if data.preprocess in ("resize_and_crop", "scale_width_and_crop") and data.crop_size > data.load_size:
        raise Tfi2iError(
            f"config key 'data.crop_size' ({data.crop_size}) exceeds 'data.load_size' "
            f"({data.load_size}); make crop_size <= load_size"
        )
    for key in ("batch_size", "save_every_epochs", "keep_checkpoints", "sample_every_epochs",
                "log_every_steps", "eval_images"):
        if getattr(train, key) < 1:
            raise Tfi2iError(f"config key 'train.{key}' must be at least 1")
    for key in ("eval_every_epochs", "intra_op_threads", "inter_op_threads"):
        if (getattr(train, key) or 0) < 0:
            raise Tfi2iError(f"config key 'train.{key}' must be 0 or more")
    if train.n_epochs + train.n_epochs_decay < 1:
        raise Tfi2iError("config keys 'train.n_epochs' + 'train.n_epochs_decay' must total at least 1")
    for i, loss in enumerate(config.losses):
        if not loss.name:
            raise Tfi2iError(f"config key 'losses.{i}.name' is empty; name a tfi2i.losses entry")
    return config


def from_dict(raw):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Tfi2iError("the config must be a YAML mapping of sections (model, data, train, ...)")
    return validate(_build(Config, raw))


def read_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise Tfi2iError(f"config file '{path}' does not exist; check the --config path") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise Tfi2iError(f"config file '{path}' is not valid YAML{where}; fix its syntax") from None


def load(path=None, overrides=()):
    """Reads a YAML config (or the defaults), applies overrides, validates, returns Config."""
    raw = read_yaml(path) if path else {}
    if not isinstance(raw, dict):
        raise Tfi2iError(f"config file '{path}' must be a YAML mapping of sections (model, data, train, ...)")
    # Overrides apply to the file's values with every default filled in, so any key can be set.
    resolved = to_dict(_build(Config, raw))
    for assignment in overrides:
        apply_override(resolved, assignment)
    return from_dict(resolved)


def to_dict(config):
    return dataclasses.asdict(config)


def to_yaml(config):
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def differences(old, new, path=""):
    """Key paths whose values differ between two plain config mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(dict.fromkeys([*old, *new]))
        return [d for k in keys for d in differences(old.get(k), new.get(k), f"{path}.{k}" if path else k)]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (o, n) in enumerate(zip(old, new)) for d in differences(o, n, f"{path}.{i}")]
    return [] if old == new else [path]
