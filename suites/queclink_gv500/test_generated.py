"""GV500 test purposes generated from specs/queclink_gv500.yaml (see atconform.casegen):
every field's boundaries and lengths succeed; bad input (a wrong password, too short or
too long, out of range, lower-case or 3-digit <seq>, no "$") gets what the ICS declares
(default: no reply within T, and a valid query right after still answers with the old
values, see atconform.families.queclink_gv500.session)."""
import pytest

from atconform.casegen.execute import run
from atconform.casegen.suite import purpose_params

pytestmark = pytest.mark.family("queclink_gv500")


@pytest.mark.parametrize("purpose", purpose_params("queclink_gv500"))
def test_purpose(purpose, modem):
    run(purpose, modem)
