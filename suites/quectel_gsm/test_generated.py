"""Quectel GSM test purposes generated from specs/quectel_gsm.yaml (see atconform.casegen):
every command and form of the GSM TCPIP Application Note (seed 003), with the module
settings each variant needs (AT+QIMUX, AT+QIMODE ...) as preconditions."""
import pytest

from atconform.casegen.execute import run
from atconform.casegen.suite import purpose_params

pytestmark = pytest.mark.family("quectel_gsm")


@pytest.mark.parametrize("purpose", purpose_params("quectel_gsm"))
def test_purpose(purpose, modem):
    run(purpose, modem)
