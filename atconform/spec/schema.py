"""JSON Schema of the spec files (``specs/*.yaml``), generated from :class:`Family`.

The schema is committed as ``specs/family.schema.json`` so editors can validate and complete
spec files (e.g. ``# yaml-language-server: $schema=family.schema.json``). It is generated, never
edited by hand; ``tests/test_spec_models.py`` fails when the committed file differs from a fresh
export, so after changing :mod:`atconform.spec.models` run::

    .venv/bin/python -m atconform.spec.schema
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from atconform.spec.models import Family

SCHEMA_FILE = "family.schema.json"


def family_schema() -> dict[str, Any]:
    """``Family.model_json_schema()`` (validation mode)."""
    return Family.model_json_schema()


def render_schema() -> str:
    """The schema as written to disk: 2-space indented JSON with a final newline."""
    return json.dumps(family_schema(), indent=2, ensure_ascii=False) + "\n"


def default_path() -> Path:
    """``specs/family.schema.json`` next to the spec files (honours ``$ATCONFORM_SPECS``)."""
    from atconform.spec import specs_dir  # local: the package imports this module's siblings

    return specs_dir() / SCHEMA_FILE


def export_schema(path: str | Path | None = None) -> Path:
    """Write the schema to ``path`` (default: :func:`default_path`) and return the path."""
    out = Path(path) if path is not None else default_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_schema(), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1:
        print("usage: python -m atconform.spec.schema [OUTPUT]", file=sys.stderr)
        return 2
    print(export_schema(argv[0] if argv else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
