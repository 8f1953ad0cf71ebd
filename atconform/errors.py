"""Bad input files as one line: ``<file>: <field>: <reason>``.

The suite and the CLI read YAML files the user names (IXIT, planted defects, fault
plans, specs). A mistake in one must stop the run at once with a line that names the
file, the field and the reason, not a traceback or hundreds of ``error`` verdicts::

    from atconform.errors import BadInput, load_yaml_model, reading

    try:
        ixit = load_yaml_model("lab.yaml", Ixit)
    except BadInput as e:
        print(f"bad IXIT {e}")   # bad IXIT lab.yaml: context_id: Input should be a valid integer...

    with reading(spec_file):     # any loader: its OSError/YAMLError/ValidationError become BadInput
        family = load_family("bg96")

Reasons never quote the offending value: an IXIT holds passwords and PINs.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["BadInput", "OneLineArgumentParser", "load_yaml", "load_yaml_model", "reading"]

M = TypeVar("M", bound=BaseModel)
MAX_PROBLEMS = 5        # more would not fit on the one line; the first ones are enough to start
# pydantic's wording for the two commonest YAML mistakes, said in YAML's terms
_REASONS = {"extra_forbidden": "unknown key", "missing": "required key missing"}


class BadInput(ValueError):
    """A file that cannot be used. ``path``: the file; ``problems``: ``(field, reason)``
    pairs, field ``""`` when the problem is the file itself (unreadable, or invalid YAML,
    where the field is ``line:column``). ``str()`` is one line:
    ``<file>: <field>: <reason>[; <field>: <reason>...]``."""

    def __init__(self, path: str | Path, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        parts = [f"{field}: {reason}" if field else reason for field, reason in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            parts.append(f"(+{len(problems) - MAX_PROBLEMS} more)")
        super().__init__(f"{self.path}: " + "; ".join(parts))

    @classmethod
    def from_error(cls, path: str | Path, exc: BaseException) -> "BadInput":
        """The BadInput for an OSError, yaml.YAMLError, pydantic.ValidationError or
        UnicodeDecodeError raised while reading ``path``; any other exception gives its
        message, whitespace folded to one line."""
        if isinstance(exc, BadInput):
            return exc
        if isinstance(exc, ValidationError):
            return cls(path, [(_loc(err["loc"]), _reason(err)) for err in exc.errors()])
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            # the mark's own text carries a snippet of the file (maybe a password): position only
            mark = exc.problem_mark
            reason = "invalid YAML: " + _one_line(exc.problem or "syntax error")
            if exc.context:
                reason += f" ({_one_line(exc.context)})"
            return cls(path, [(f"line {mark.line + 1}, column {mark.column + 1}", reason)])
        if isinstance(exc, yaml.YAMLError):
            return cls(path, [("", "invalid YAML: " + _one_line(str(exc)))])
        if isinstance(exc, UnicodeDecodeError):
            return cls(path, [("", f"not UTF-8 text (byte {exc.start})")])
        if isinstance(exc, OSError):
            return cls(path, [("", exc.strerror or _one_line(str(exc)))])
        return cls(path, [("", _one_line(str(exc)) or type(exc).__name__)])


def _loc(loc: tuple[Any, ...]) -> str:
    """``("peers", "dns", "port")`` -> ``peers.dns.port``; ``("faults", 0, "at")`` -> ``faults[0].at``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _reason(err: dict[str, Any]) -> str:
    if err["type"] in _REASONS:
        return _REASONS[err["type"]]
    msg = err["msg"]
    # a model validator's ValueError arrives as "Value error, <its message>"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return _one_line(msg)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Raise the errors of reading ``path`` in the block (OSError, yaml.YAMLError,
    pydantic.ValidationError, UnicodeDecodeError) as :class:`BadInput` naming ``path``;
    other exceptions pass through."""
    try:
        yield
    except BadInput:
        raise
    except (OSError, yaml.YAMLError, ValidationError, UnicodeDecodeError) as e:
        raise BadInput.from_error(path, e) from None


def load_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (``None`` when empty). Raises BadInput."""
    with reading(path), open(path, encoding="utf-8") as f:
        try:
            return yaml.safe_load(f)
        except (ValueError, OverflowError) as e:
            # a scalar YAML types but cannot build, such as the date 2027-13-01
            raise BadInput(path, [("", f"invalid YAML value: {_one_line(str(e))}")]) from None


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """``model`` validated from the YAML mapping in ``path`` (an empty file is ``{}``).
    Raises BadInput naming the file, each bad field and why."""
    data = load_yaml(path)
    with reading(path):
        return model.model_validate(data if data is not None else {})


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr, ``<prog>: error: <message>
    (see <prog> -h)``, exit status 2 (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} -h)\n")
