"""Checks across keys that types alone cannot express (ranges, keys that depend on others)."""

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
