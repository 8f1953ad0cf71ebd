"""Generated test purposes as pytest parameters, for a family's ``test_generated.py``::

    pytestmark = pytest.mark.family("bg96")

    @pytest.mark.parametrize("purpose", purpose_params("bg96"))
    def test_purpose(purpose, modem):
        run(purpose, modem)

Each parameter carries the purpose's id (``BG96/QIOPEN/WRITE/...``), its ``purpose``
marker (title, command, form, manual section, kind) and the ``emulator_only`` and
``skip`` markers the generator set.
"""
from __future__ import annotations

import pytest

from atconform.casegen import Purpose, generate
from atconform.spec import load_family


def command_name(family, name: str) -> str:
    """The command as a user writes it: ``AT+QIOPEN`` (V.250), ``AT@BSS2`` (delimited)."""
    cmd = family.command(name)
    return cmd.at_name if family.framing.style == "v250" else family.framing.prefix + cmd.name


def purpose_params(model: str) -> list:
    """``pytest.param`` per generated purpose of ``model``'s spec, in manual order."""
    family = load_family(model)
    return [_param(family, p) for p in generate(family)]


def _param(family, p: Purpose):
    marks = [pytest.mark.purpose(p.id, title=p.title, family=p.family, command=command_name(family, p.command),
                                 form=p.form, section=p.section, source=p.source, kind=p.kind)]
    if p.emulator_only:
        marks.append(pytest.mark.emulator_only(p.emulator_only))
    if "power_cycle" in p.preconditions + p.cleanup:
        marks.append(pytest.mark.needs_power_cycle("a power cycle brings the module back"))
    if p.skip:
        marks.append(pytest.mark.skip(reason=p.skip))
    return pytest.param(p, marks=marks, id=p.id)
