"""Interoperability (issue 10 item 5): a third-party host library, python-gsmmodem-new's
``GsmModem``, drives the BG96 emulator's pty through its own code and reads identity,
signal, network and SIM state as it would from a real module.

``GsmModem.connect()`` also sets up SMS (AT+CMGF, AT+CPMS, AT+CNMI: 3GPP TS 27.005),
which the emulator does not implement; this test opens the port with the library's
own serial layer (``SerialComms.connect``) and then uses the library's properties and
``write``, each of which sends its command and parses the reply itself."""
import re

import pytest

pytest.importorskip("gsmmodem")

from gsmmodem.modem import GsmModem  # noqa: E402
from gsmmodem.serial_comms import SerialComms  # noqa: E402

from atconform.emulator import Emulator  # noqa: E402


@pytest.fixture
def host():
    emu = Emulator("bg96").start()
    m = GsmModem(emu.path, 115200)
    SerialComms.connect(m)          # the library's port and reader thread, no SMS set-up
    try:
        yield m
    finally:
        m.close()
        emu.stop()
    assert not emu.loop.errors and not emu.modem.handler_errors


def test_gsmmodem_reads_identity_signal_network_and_sim(host):
    assert host.write("ATE0")[-1] == "OK"
    assert host.manufacturer == "Quectel"                        # AT+CGMI
    assert host.model == "BG96"                                  # AT+CGMM
    assert re.fullmatch(r"BG96\w+", host.revision)              # AT+CGMR
    assert re.fullmatch(r"\d{15}", host.imei)                   # AT+CGSN
    assert re.fullmatch(r"\d{15}", host.imsi)                   # AT+CIMI
    assert 0 <= host.signalStrength <= 31                        # AT+CSQ <rssi>
    assert host.networkName                                      # AT+COPS?
    assert host.write("AT+CPIN?") == ["+CPIN: READY", "OK"]      # SIM state
    iccid = host.write("AT+QCCID")
    assert iccid[-1] == "OK" and re.fullmatch(r"\+QCCID: \d{19,20}", iccid[0])
