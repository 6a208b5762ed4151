"""The floors of the house: a tfi2i module imports only modules of lower floors (or of its own
package), so data flows one way: config -> data -> model -> trainer -> run -> export."""

import ast
import os

import pytest

import tfi2i

PACKAGE_ROOT = os.path.dirname(tfi2i.__file__)

# Lowest first. A module's floor is that of its longest listed prefix.
FLOORS = [
    ("tfi2i.errors",),
    ("tfi2i.registry", "tfi2i.pixels", "tfi2i.batching"),
    ("tfi2i",),  # the package's own names: __version__, Tfi2iError
    ("tfi2i.config",),
    ("tfi2i.runtime", "tfi2i.kernels", "tfi2i.schedules"),
    ("tfi2i.nets", "tfi2i.data", "tfi2i.losses", "tfi2i.metrics"),
    ("tfi2i.models",),
    ("tfi2i.run",),
    ("tfi2i.evaluation",),
    ("tfi2i.training", "tfi2i.inference"),
    ("tfi2i.cli",),
]
TUNED_CLASSES = ("TunedConv2D", "TunedConv2DTranspose", "TunedBatchNormalization", "TunedInstanceNormalization",
                 "TunedReflectionPadding2D", "FusedAdam")


def floor_of(module):
    """(floor index, the listed name that places it)."""
    best = max((name for floor in FLOORS for name in floor if module == name or module.startswith(name + ".")),
               key=len)
    return next(i for i, floor in enumerate(FLOORS) if best in floor), best


def modules():
    """{module name: parsed source} of every module of the tfi2i package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE_ROOT):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path, os.path.dirname(PACKAGE_ROOT))[:-3].replace(os.sep, ".")
                with open(path, encoding="utf-8") as f:
                    found[name.removesuffix(".__init__")] = ast.parse(f.read())
    return found


def imported(tree):
    """(module, imported names) of each tfi2i import of a parsed module, the deferred ones too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfi2i"):
            for alias in node.names:
                # `from tfi2i import config` imports the module tfi2i.config.
                submodule = f"{node.module}.{alias.name}"
                yield (submodule if submodule in MODULES else node.module), alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tfi2i"):
                    yield alias.name, None


MODULES = modules()


def test_every_module_has_a_floor():
    for module in MODULES:
        floor_of(module)  # raises on a module no floor names


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    floor, place = floor_of(module)
    for target, _ in imported(MODULES[module]):
        target_floor, target_place = floor_of(target)
        assert target_floor < floor or target_place == place, (
            f"{module} (floor {floor}) imports {target} (floor {target_floor})")


def test_only_the_kernel_selection_names_a_tuned_class():
    for module, tree in MODULES.items():
        if module.startswith("tfi2i.kernels"):
            continue
        for _, name in imported(tree):
            assert name not in TUNED_CLASSES, f"{module} imports {name}; ask tfi2i.kernels for layer classes"
