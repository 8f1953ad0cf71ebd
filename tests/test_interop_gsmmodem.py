"""Interoperability (issue 10 item 5): a third-party host library, python-gsmmodem-new's
``GsmModem``, drives the BG96 emulator's pty through its own code and reads identity,
signal, network and SIM state as it would from a real module.

``GsmModem.connect()`` itself opens the port and initializes the module: ATZ, ATE0,
AT+CFUN?, AT+CMEE=1, AT+CPIN? (it raises PinRequiredError unless ``+CPIN: READY``),
AT+CLAC and its probes (ERROR is tolerated), AT+COPS=3,0, then the SMS set-up of 3GPP
TS 27.005 (AT+CMGF=0, AT+CSCA?, AT+CSMP=..., AT+CPMS=? and AT+CPMS=..., AT+CNMI=...)
and the call set-up of 27.007 (AT+CLIP=1, AT+CRC=1, AT+CVHU=0). The emulator's general
commands keep those settings; no message or call ever arrives. The reads then go through
the library's properties, each of which sends its command and parses the reply itself."""
import re

import pytest

pytest.importorskip("gsmmodem")

from gsmmodem.modem import GsmModem  # noqa: E402

from atconform.emulator import Emulator  # noqa: E402


@pytest.fixture
def emu():
    e = Emulator("bg96").start()
    try:
        yield e
    finally:
        e.stop()
    assert not e.loop.errors and not e.modem.handler_errors


@pytest.fixture
def host(emu):
    received = []
    m = GsmModem(emu.path, 115200, smsReceivedCallbackFunc=received.append)
    m.connect()                     # the library's own start-up, SMS set-up included
    try:
        yield m
    finally:
        m.close()


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


def test_gsmmodem_connect_sets_up_sms_and_calls_on_the_module(host, emu):
    """What connect() set, read back through the library and seen in the DCE's state."""
    assert host.networkName == "CHINA MOBILE"                    # AT+COPS=3,0: long name
    assert host.smsTextMode is False                             # AT+CMGF=0
    assert host.smsc == "+8613800100500"                         # AT+CSCA? (the SIM's)
    assert host.write("AT+CMGF?") == ["+CMGF: 0", "OK"]
    # AT+CPMS=? offered "SM","ME","MT"; the library prefers "ME" for all three
    assert host.write("AT+CPMS?") == ['+CPMS: "ME",0,255,"ME",0,255,"ME",0,255', "OK"]
    g = emu.modem.general
    assert g.cmgf == 0 and g.cpms == ["ME", "ME", "ME"]
    assert g.csmp == [49, 167, 0, 0]                             # delivery reports requested
    assert g.cnmi[:4] == [2, 1, 0, 2]                            # the library's AT_CNMI
    assert (g.clip, g.crc, g.cvhu) == (1, 1, 0)
