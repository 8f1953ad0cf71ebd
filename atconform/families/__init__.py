"""Modem families as plug-ins, found by name.

A family is the package ``atconform.families.<model>`` whose ``PLUGIN`` is a
:class:`~atconform.families.base.FamilyPlugin`: its dialect (engine hooks, session steps,
the check after an error), its emulator, its fault kinds and its host policies. Generic
layers (``protocol/``, ``casegen/``, ``transport/``, ``report/``, the fixtures) reach a
family only through :func:`get` and the capability protocols in
:mod:`atconform.families.base`, the way pyserial finds ``protocol_<scheme>`` modules by
name and labgrid keeps protocols apart from drivers. A new family needs no edit outside
its package, its spec (``specs/<model>.yaml``) and its suites folder.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil

from atconform.families.base import FamilyPlugin


class UnknownFamily(LookupError):
    """No package ``atconform.families.<model>`` with a ``PLUGIN``."""


@functools.lru_cache(maxsize=None)
def models() -> tuple[str, ...]:
    """Every registered model name, sorted (``bg96``, ``fibocom_l610``, ...)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            found.append(info.name)
    return tuple(sorted(found))


@functools.lru_cache(maxsize=None)
def get(model: str) -> FamilyPlugin:
    """The plug-in of ``model``. Raises UnknownFamily naming the known ones."""
    if model not in models():
        raise UnknownFamily(f"no modem family {model!r} (known: {', '.join(models())})")
    plugin = importlib.import_module(f"{__name__}.{model}").PLUGIN
    if plugin.model != model:
        raise UnknownFamily(f"atconform.families.{model} registers {plugin.model!r}")
    return plugin


def emulated() -> tuple[str, ...]:
    """Models that have a built-in emulator."""
    return tuple(m for m in models() if get(m).has_emulator)
