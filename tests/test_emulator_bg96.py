"""The BG96 emulator through a real pty: state machines and counters against the manual."""
import socket
import time


from atconform.protocol.engine import check_response


def opened(ch, cnid, port, mode=0, host="127.0.0.1"):
    assert ch.command(f'AT+QIOPEN=1,{cnid},"TCP","{host}",{port},0,{mode}').ok
    urc = ch.wait_urc("qiopen", 5)
    assert urc is not None
    return urc.text


def test_pty_is_a_tty_pyserial_opens(emu):
    import os
    assert emu.path.startswith("/dev/pts/")
    fd = os.open(emu.path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)


def test_malformed_gets_error_then_qigeterror_552(ch):
    r = ch.command('AT+QIOPEN=1,"TCP","220.180.239.212",8009,0,1')   # §3.9
    assert r.final.text == "ERROR"
    r = ch.command("AT+QIGETERROR")
    assert r.lines == ["+QIGETERROR: 552, invalid parameters"]
    assert ch.command("AT+QIACT=17").final.text == "ERROR"
    assert ch.command("AT+QIGETERROR").lines[0].startswith("+QIGETERROR: 552")


def test_closed_port_gives_566_and_used_connectid_563(ch, echo):
    assert ch.command("AT+QIACT=1").ok
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    assert opened(ch, 0, closed_port) == "+QIOPEN: 0,566"
    assert ch.command("AT+QIGETERROR").lines == ["+QIGETERROR: 566, socket connect failed"]
    assert opened(ch, 1, echo.port) == "+QIOPEN: 1,0"
    r = ch.command(f'AT+QIOPEN=1,1,"TCP","127.0.0.1",{echo.port},0,0')
    assert r.final.text == "ERROR"
    assert ch.command("AT+QIGETERROR").lines[0].startswith("+QIGETERROR: 563")


def test_counters_match_bytes_moved_and_recv_urc_once(ch, echo, bg96_spec):
    assert ch.command("AT+QIACT=1").ok
    assert opened(ch, 0, echo.port) == "+QIOPEN: 0,0"
    assert ch.command("AT+QISEND=0", data=b"test1", ctrl_z=True).final.text == "SEND OK"   # §3.2.2
    assert ch.command("AT+QISEND=0,4", data=b"test").final.text == "SEND OK"
    assert ch.command('AT+QISENDEX=0,"3132333435"').final.text == "SEND OK"
    deadline = time.monotonic() + 5
    # the echo peer's handler thread registers the connection when it gets to run
    while time.monotonic() < deadline and [bytes(r) for r in echo.received] != [b"test1test12345"]:
        time.sleep(0.01)
    assert [bytes(r) for r in echo.received] == [b"test1test12345"]   # the peer got exactly these bytes
    r = ch.command("AT+QISEND=0,0")
    assert r.lines == ["+QISEND: 14,14,0"]                      # §3.2.2 counters
    assert ch.wait_urc("recv", 5) is not None
    deadline = time.monotonic() + 5                             # all 14 echoed bytes arrive
    while time.monotonic() < deadline and ch.command("AT+QIRD=0,0").lines != ["+QIRD: 14,0,14"]:
        time.sleep(0.01)
    r = ch.command("AT+QIRD=0,6")                               # partial read
    assert r.info[0].text == "+QIRD: 6" and r.info[0].payload == b"test1t"
    assert check_response(bg96_spec, r) == []
    assert ch.command("AT+QIRD=0,0").lines == ["+QIRD: 14,6,8"]
    assert ch.drain_urcs() == []                                # no second "recv" while unread data remains
    r = ch.command("AT+QIRD=0,1500")
    assert r.info[0].payload == b"est12345"
    assert ch.command("AT+QIRD=0,1500").lines == ["+QIRD: 0"]
    assert ch.command("AT+QIRD=0,0").lines == ["+QIRD: 14,14,0"]
    assert ch.command("AT+QISEND=0,2", data=b"zz").final.text == "SEND OK"
    assert ch.wait_urc("recv", 5) is not None                   # buffer was read empty: a new URC


def test_peer_close_reports_closed_then_qiclose_frees_id(ch):
    srv = socket.create_server(("127.0.0.1", 0))
    assert ch.command("AT+QIACT=1").ok
    assert opened(ch, 3, srv.getsockname()[1]) == "+QIOPEN: 3,0"
    conn, _ = srv.accept()
    conn.close()
    assert ch.wait_urc("closed", 5).text == '+QIURC: "closed",3'
    assert ',4,1,3,0,"usbmodem"' in ch.command("AT+QISTATE=1,3").lines[0]    # Closing
    assert ch.command("AT+QICLOSE=3").ok
    assert ch.command("AT+QISTATE=1,3").lines == []
    srv.close()


def test_qistate_fields_match_open_parameters(ch, echo, bg96_spec):
    assert ch.command("AT+QIACT=1").ok
    opened(ch, 5, echo.port, mode=0)
    r = ch.command("AT+QISTATE=1,5")
    assert check_response(bg96_spec, r) == []
    from atconform.protocol.engine import parse_info
    v = parse_info(r)
    assert (v["connectID"], v["service_type"], v["IP_address"], v["remote_port"], v["socket_state"],
            v["contextID"], v["access_mode"]) == (5, "TCP", "127.0.0.1", echo.port, 2, 1, 0)


def test_ato_without_transparent_connection_is_no_carrier(ch):
    assert ch.command("ATO").final.text == "NO CARRIER"      # §1.2 item 5.2


def test_qpowd_then_power_cycle_resets_state(emu, ch):
    assert ch.command("AT+QIACT=1").ok
    r = ch.command("AT+QPOWD")
    assert r.ok
    assert ch.wait_urc("powered down", 5) is not None
    emu.power_cycle()
    assert ch.wait_urc("rdy", 5) is not None
    assert ch.command("ATE0").ok
    assert ch.command("AT+QIACT?").lines == []


def test_atv0_numeric_and_cmee(ch):
    assert ch.command("ATV0").final.text == "0"
    assert ch.command("AT+QIACT=0").final.text == "4"
    assert ch.command("ATV1").ok
    assert ch.command("AT+CMEE=1").ok
    assert ch.command("AT+CMEE?").lines == ["+CMEE: 1"]


def test_transcript_redacts_apn_password(ch):
    mark = ch.transcript.mark()
    assert ch.command('AT+QICSGP=1,1,"UNINET","user","s3cr3t!",1').ok
    assert ch.command("AT+QICSGP=1").lines == ['+QICSGP: 1,"UNINET","user","s3cr3t!",1']
    text = ch.transcript.render(mark)
    assert "s3cr3t!" not in text and '"***"' in text
    assert "tx" in text and "rx" in text and "<CR>" in text
