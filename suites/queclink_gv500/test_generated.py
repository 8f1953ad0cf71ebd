"""GV500 test purposes generated from specs/queclink_gv500.yaml (see atconform.casegen):
every field's boundaries and lengths succeed; bad input (a wrong password, too short or
too long, out of range, lower-case or 3-digit <seq>, no "$") gets what the ICS declares
(default: no reply within T, and a valid query right after still answers with the old
values, see atconform.families.queclink_gv500.session)."""
import pytest

from atconform.casegen import generate
from atconform.casegen.execute import run
from atconform.spec import load_family

MODEL = "queclink_gv500"
GV500 = load_family(MODEL)
PURPOSES = generate(GV500)
pytestmark = pytest.mark.family(MODEL)


def _param(p):
    marks = [pytest.mark.purpose(p.id, title=p.title, family=p.family,
                                 command=GV500.framing.prefix + GV500.command(p.command).name, form=p.form,
                                 section=p.section, source=p.source, kind=p.kind)]
    if p.emulator_only:
        marks.append(pytest.mark.emulator_only(p.emulator_only))
    if p.skip:
        marks.append(pytest.mark.skip(reason=p.skip))
    return pytest.param(p, marks=marks, id=p.id)


@pytest.mark.parametrize("purpose", [_param(p) for p in PURPOSES])
def test_purpose(purpose, modem):
    run(purpose, modem)
