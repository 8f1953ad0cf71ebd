"""BG96 test purposes generated from specs/bg96.yaml (see atconform.casegen)."""
import pytest

from atconform.casegen import generate
from atconform.casegen.execute import run
from atconform.spec import load_family

BG96 = load_family("bg96")
PURPOSES = generate(BG96)


def _param(p):
    marks = [pytest.mark.family("bg96"),
             pytest.mark.purpose(p.id, title=p.title, family=p.family, command=BG96.command(p.command).at_name, form=p.form,
                                 section=p.section, source=p.source, kind=p.kind)]
    if p.emulator_only:
        marks.append(pytest.mark.emulator_only(p.emulator_only))
    if p.skip:
        marks.append(pytest.mark.skip(reason=p.skip))
    return pytest.param(p, marks=marks, id=p.id)


@pytest.mark.parametrize("purpose", [_param(p) for p in PURPOSES])
def test_purpose(purpose, modem):
    run(purpose, modem)
