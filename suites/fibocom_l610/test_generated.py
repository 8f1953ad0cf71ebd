"""Fibocom L610 test purposes generated from specs/fibocom_l610.yaml (see atconform.casegen):
every command and form of seed 004, the boundary and bad-input cases of each parameter,
and the cases of the manual's cross-parameter rules (``.../rule/<name>``)."""
import pytest

from atconform.casegen.execute import run
from atconform.casegen.suite import purpose_params

pytestmark = pytest.mark.family("fibocom_l610")


@pytest.mark.parametrize("purpose", purpose_params("fibocom_l610"))
def test_purpose(purpose, modem):
    run(purpose, modem)
