"""`--set a.b.c=value` overrides, applied to a raw config mapping before it is typed.

The value is parsed as YAML and converted to the key's type by the loader, so
`--set train.batch_size=4` and `--set "losses=[{name: l1, weight: 100}]"` both work.
"""

import dataclasses
import typing
from typing import Any

import yaml

from tfi2i.config.loader import is_optional, non_none, unknown_key
from tfi2i.config.schema import Config, field_types
from tfi2i.errors import Tfi2iError


def _child_type(tp, key, path):
    """The type found one step below `tp` at `key` (a field, a list index or a dict key)."""
    if is_optional(tp):
        tp = non_none(tp)
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        fields = field_types(tp)
        if key not in fields:
            raise unknown_key(path, key, list(fields))
        return fields[key]
    if origin is list:
        if not key.isdigit():
            raise Tfi2iError(f"config key '{path}' is a list: index it with a number, not '{key}'")
        return typing.get_args(tp)[0]
    if origin is dict:
        return Any
    raise Tfi2iError(f"config key '{path}' holds a single value; '{key}' cannot be set under it")


def _parse(text, assignment):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise Tfi2iError(
            f"--set '{assignment}': the value is not valid YAML; close its brackets and quotes"
        ) from None


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
            node[part] = text if tp is str else _parse(text, assignment)
        else:
            child = node[part] if isinstance(node, list) else node.get(part)
            if child is None:
                child = [] if typing.get_origin(tp) is list else {}
                node[part] = child
            node = child


