"""Entry-point registry: the only place that reads `importlib.metadata` entry points.

Built-in parts are registered through tfi2i's own setup.cfg, exactly as a third-party
distribution registers its own, so both are looked up the same way.
"""

import dataclasses
import importlib.metadata

from tfi2i.errors import Tfi2iError, did_you_mean

GROUPS = {
    "tfi2i.models": "model",
    "tfi2i.generators": "generator",
    "tfi2i.discriminators": "discriminator",
    "tfi2i.gan_losses": "GAN loss",
    "tfi2i.losses": "loss",
    "tfi2i.feature_extractors": "feature extractor",
}


@dataclasses.dataclass(frozen=True)
class Entry:
    group: str
    name: str
    target: str
    distribution: str


def _entry_points(group):
    return list(importlib.metadata.entry_points(group=group))


def _distribution(entry_point):
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else "unknown distribution"


def entries(group=None):
    """Every registered entry, optionally of one group, sorted by group then name."""
    groups = [group] if group else list(GROUPS)
    found = []
    for g in groups:
        for ep in _entry_points(g):
            found.append(Entry(g, ep.name, ep.value, _distribution(ep)))
    return sorted(found, key=lambda e: (e.group, e.name, e.distribution))


def names(group):
    return sorted({ep.name for ep in _entry_points(group)})


def distribution_of(group, name):
    """The distribution that registers `name` in `group` (for messages about a plugin)."""
    dists = sorted({_distribution(ep) for ep in _entry_points(group) if ep.name == name})
    return ", ".join(dists) or "unknown distribution"


def load(group, name):
    """Imports and returns the object registered as `name` in `group`.

    Raises Tfi2iError with one line for an unknown name, a name claimed by two
    distributions, or a plugin whose import fails (other plugins are unaffected).
    """
    kind = GROUPS.get(group, group)
    matches = [ep for ep in _entry_points(group) if ep.name == name]
    if not matches:
        known = names(group)
        listing = ", ".join(known) if known else "none"
        raise Tfi2iError(
            f"unknown {kind} '{name}'{did_you_mean(name, known)}; "
            f"registered in {group}: {listing}"
        )
    dists = sorted({_distribution(ep) for ep in matches})
    if len(dists) > 1:
        raise Tfi2iError(
            f"{kind} '{name}' is registered by several distributions "
            f"({', '.join(dists)}); uninstall all but one"
        )
    entry_point = matches[0]
    try:
        return entry_point.load()
    except Exception as error:  # A broken plugin must not take the others down.
        raise Tfi2iError(
            f"plugin '{name}' ({group} = {entry_point.value}) from distribution "
            f"'{dists[0]}' failed to import: {type(error).__name__}: {error}; "
            f"fix or uninstall '{dists[0]}'"
        ) from None
