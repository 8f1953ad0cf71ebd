"""BG96 test purposes generated from specs/bg96.yaml (see atconform.casegen)."""
import pytest

from atconform.casegen.execute import run
from atconform.casegen.suite import purpose_params

pytestmark = pytest.mark.family("bg96")


@pytest.mark.parametrize("purpose", purpose_params("bg96"))
def test_purpose(purpose, modem):
    run(purpose, modem)
