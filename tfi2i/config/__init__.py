"""Typed configuration, one concept a module:

    schema       the sections as dataclasses: every key, its type and default
    loader       plain data (YAML) -> typed Config, and back
    overrides    `--set a.b.c=value`
    validation   checks across keys

`load(path, overrides)` puts them together: a YAML file (or the defaults), the overrides, a
validated Config.
"""

from tfi2i.config.loader import build, differences, from_dict, read_yaml, to_dict, to_yaml
from tfi2i.config.overrides import apply_override
from tfi2i.config.schema import (
    CROPPING_MODES, KERNEL_MODES, PREPROCESS_MODES, Config, DataConfig, GanLossConfig, LossConfig, ModelConfig,
    OptimizerConfig, PartConfig, SyntheticConfig, TrainConfig,
)
from tfi2i.config.validation import validate
from tfi2i.errors import Tfi2iError

__all__ = [
    "load", "from_dict", "read_yaml", "to_dict", "to_yaml", "differences", "apply_override", "validate",
    "CROPPING_MODES", "KERNEL_MODES", "PREPROCESS_MODES", "Config", "DataConfig", "GanLossConfig", "LossConfig",
    "ModelConfig", "OptimizerConfig", "PartConfig", "SyntheticConfig", "TrainConfig",
]


def load(path=None, overrides=()):
    """Reads a YAML config (or the defaults), applies overrides, validates, returns Config."""
    raw = read_yaml(path) if path else {}
    if not isinstance(raw, dict):
        raise Tfi2iError(f"config file '{path}' must be a YAML mapping of sections (model, data, train, ...)")
    # Overrides apply to the file's values with every default filled in, so any key can be set.
    resolved = to_dict(build(Config, raw))
    for assignment in overrides:
        apply_override(resolved, assignment)
    return from_dict(resolved)
