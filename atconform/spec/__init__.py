"""Spec models and loader. ``load_family("bg96")`` reads and validates ``specs/bg96.yaml``."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml

from atconform.spec.models import (  # noqa: F401  (re-exported)
    Command, Family, Form, FormKind, Parameter, ParamType, ResponseLine, ResultCode, Source,
    Urc, Variant,
)


def specs_dir() -> Path:
    """``$ATCONFORM_SPECS`` or the repository's ``specs/`` folder."""
    env = os.environ.get("ATCONFORM_SPECS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "specs"


def load_path(path: str | Path) -> Family:
    """Load and validate one spec file. Raises pydantic.ValidationError with the field path
    on a bad spec, FileNotFoundError when it is missing."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return Family.model_validate(data)


@functools.lru_cache(maxsize=None)
def load_family(model: str) -> Family:
    """The validated spec of ``model`` (``bg96``...), cached per process."""
    return load_path(specs_dir() / f"{model}.yaml")
