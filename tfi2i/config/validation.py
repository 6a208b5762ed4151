"""Checks across keys that types alone cannot express (ranges, keys that depend on others)."""

import math

from tfi2i.errors import Tfi2iError


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
    for key, value, requirement in _ranges(config):
        if value is not None and not requirement[0](value):
            raise Tfi2iError(f"config key '{key}' is {value}; it must be {requirement[1]}")
    if train.n_epochs + train.n_epochs_decay < 1:
        raise Tfi2iError("config keys 'train.n_epochs' + 'train.n_epochs_decay' must total at least 1")
    for i, loss in enumerate(config.losses):
        if not loss.name:
            raise Tfi2iError(f"config key 'losses.{i}.name' is empty; name a tfi2i.losses entry")
    return config


AT_LEAST_1 = (lambda v: v >= 1, "at least 1")
AT_LEAST_0 = (lambda v: v >= 0, "0 or more")
POSITIVE = (lambda v: v > 0 and math.isfinite(v), "a finite number greater than 0")
WEIGHT = (lambda v: v >= 0 and math.isfinite(v), "a finite number, 0 or more")
FRACTION = (lambda v: 0 <= v < 1, "at least 0 and below 1")


def _ranges(config):
    """(key, value, (check, requirement)) of every numeric key with a range; None passes
    (an unset optional key)."""
    data, train, optimizer, model = config.data, config.train, config.optimizer, config.model
    yield from (
        ("data.load_size", data.load_size, AT_LEAST_1),
        ("data.crop_size", data.crop_size, AT_LEAST_1),
        ("data.max_dataset_size", data.max_dataset_size, (AT_LEAST_1[0], "at least 1, or null for every file")),
        ("data.synthetic.count", data.synthetic.count, AT_LEAST_1),
        ("data.synthetic.size", data.synthetic.size, (lambda v: v >= 16, "at least 16")),
        ("optimizer.lr", optimizer.lr, POSITIVE),
        ("optimizer.beta_1", optimizer.beta_1, FRACTION),
        ("optimizer.beta_2", optimizer.beta_2, FRACTION),
        ("optimizer.epsilon", optimizer.epsilon, POSITIVE),
        ("model.discriminator_loss_weight", model.discriminator_loss_weight, POSITIVE),
        ("model.gan_loss.weight", model.gan_loss.weight, WEIGHT),
        ("model.n_critic", model.n_critic, AT_LEAST_1),
        ("model.init.gain", model.init.gain if model.init else None, POSITIVE),
        *((f"losses.{i}.weight", loss.weight, WEIGHT) for i, loss in enumerate(config.losses)),
        ("train.n_epochs", train.n_epochs, AT_LEAST_0),
        ("train.n_epochs_decay", train.n_epochs_decay, AT_LEAST_0),
        ("train.lr_decay_epochs", train.lr_decay_epochs, AT_LEAST_1),
        ("train.plateau.factor", train.plateau.factor, (lambda v: 0 < v < 1, "above 0 and below 1")),
        ("train.plateau.patience", train.plateau.patience, AT_LEAST_0),
        ("train.plateau.threshold", train.plateau.threshold, FRACTION),
        ("train.plateau.min_lr", train.plateau.min_lr, WEIGHT),
        ("train.steps_per_epoch", train.steps_per_epoch, AT_LEAST_1),
        ("train.save_every_steps", train.save_every_steps, AT_LEAST_1),
        ("train.keep_every_epochs", train.keep_every_epochs, AT_LEAST_1),
        ("train.val_steps", train.val_steps, AT_LEAST_0),
        ("train.num_samples", train.num_samples, AT_LEAST_1),
        *((f"train.{key}", getattr(train, key), AT_LEAST_1) for key in (
            "batch_size", "save_every_epochs", "keep_checkpoints", "sample_every_epochs", "log_every_steps",
            "eval_images")),
        *((f"train.{key}", getattr(train, key), AT_LEAST_0) for key in (
            "eval_every_epochs", "intra_op_threads", "inter_op_threads")),
    )
