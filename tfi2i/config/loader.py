"""The typed loader: plain data (YAML) -> config dataclasses, and back.

Unknown keys and wrong types are rejected with one line that names the key path and the
closest valid key.
"""

import dataclasses
import typing
from typing import Any, Literal, Union

import yaml

from tfi2i.config.schema import Config, field_types
from tfi2i.config.validation import validate
from tfi2i.errors import Tfi2iError, did_you_mean


def _type_name(tp):
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def is_optional(tp):
    return typing.get_origin(tp) is Union and type(None) in typing.get_args(tp)


def non_none(tp):
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
    if is_optional(tp):
        return None if value is None else _coerce(value, non_none(tp), path)
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
        return build(tp, value, path)
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


def unknown_key(path, key, known):
    full = f"{path}.{key}" if path else key
    return Tfi2iError(
        f"unknown config key '{full}'{did_you_mean(key, known)}; "
        f"valid keys here: {', '.join(known)}"
    )


def build(cls, data, path=""):
    fields = field_types(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise unknown_key(path, key, list(fields))
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


def from_dict(raw):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Tfi2iError("the config must be a YAML mapping of sections (model, data, train, ...)")
    return validate(build(Config, raw))


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
