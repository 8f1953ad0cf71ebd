"""The BG96 emulator's parts on their own: the socket state table, error code names,
the planted-defect list, typed AT+QICFG configuration, and the escape / prompt
scanners."""
import textwrap

import pytest

from atconform.families.bg96.emulator import (BEHAVIOUR_DEFECTS, TRANSITIONS, Err, IllegalSocketTransition,
                                              SocketEvent, SocketState, UnknownDefect)
from atconform.families.bg96.emulator.config import TcpipConfig
from atconform.families.bg96.emulator.datapath import MAX_SEND, EscapeGuard, Prompt
from atconform.families.bg96.emulator.defects import defect_calls, undeclared_defects
from atconform.families.bg96.emulator.sockets import Socket
from atconform.spec import load_family


def _socket() -> Socket:
    return Socket(1, 3, "TCP", "127.0.0.1", 80, 0, 0)


def test_socket_lifecycle_follows_the_table():
    s = _socket()
    assert s.state is SocketState.INITIAL
    assert s.fire(SocketEvent.OPEN) is SocketState.OPENING
    assert s.fire(SocketEvent.CONNECTED) is SocketState.CONNECTED
    assert s.fire(SocketEvent.PEER_CLOSED) is SocketState.CLOSING
    assert s.fire(SocketEvent.CONTEXT_LOST) is SocketState.CLOSING


def test_illegal_socket_transition_names_state_and_event():
    s = _socket()
    s.fire(SocketEvent.OPEN)
    s.fire(SocketEvent.LISTENING)
    with pytest.raises(IllegalSocketTransition, match="connectID 3: event PEER_CLOSED .* state LISTENING"):
        s.fire(SocketEvent.PEER_CLOSED)
    assert s.state is SocketState.LISTENING          # unchanged
    with pytest.raises(AttributeError):
        s.state = SocketState.CONNECTED              # only fire() moves it


def test_every_state_is_in_the_table_and_numbers_are_the_manuals():
    assert set(TRANSITIONS) == set(SocketState)
    assert [int(s) for s in SocketState] == [0, 1, 2, 3, 4]        # §2.1.6 <socket_state>


def test_error_names_are_chapter_4_texts():
    fam = load_family("bg96")
    for code in range(550, 575):
        assert Err(code).text == fam.error_text(code)
    assert len(Err) == 25


def test_every_defect_call_is_listed_and_every_listed_defect_is_used():
    names = [n for _, _, n in defect_calls()]
    assert undeclared_defects() == []
    assert set(names) == set(BEHAVIOUR_DEFECTS)


def test_undeclared_defect_call_is_reported(tmp_path):
    (tmp_path / "x.py").write_text(textwrap.dedent("""
        def f(self, name):
            return self.defect("no-such-defect") or self.defect(name)
    """))
    assert undeclared_defects(tmp_path) == [
        "x.py:3: defect 'no-such-defect' is not in BEHAVIOUR_DEFECTS",
        "x.py:3: defect name is not a string literal"]


def test_defect_hook_refuses_unknown_names(emu):
    with pytest.raises(UnknownDefect):
        emu.loop.call(lambda: emu.modem.defect("no-such-defect"))
    assert emu.loop.call(lambda: emu.modem.defect("esc-sends")) is False


def test_qicfg_set_and_query_lines():
    c = TcpipConfig()
    assert c.query_line("tcp/retranscfg") == '+QICFG: "tcp/retranscfg",8,600'
    assert c.query_line("prefix") is None
    c.set("dataformat", {"send_data_format": 1, "recv_data_format": 0})
    assert (c.send_hex, c.recv_hex) == (True, False)
    c.set("transpktsize", {"transpktsize": 512})
    assert c.query_line("transpktsize") == '+QICFG: "transpktsize",512'
    with pytest.raises(KeyError):
        c.set("nosuch", {})


def test_escape_needs_guard_time_before_and_within():
    g = EscapeGuard(last_rx=0.0)
    assert g.feed(b"+", 1.0, 1.0) == (b"", False)
    assert g.feed(b"++", 1.5, 1.0) == (b"", True)
    g = EscapeGuard(last_rx=0.0)
    assert g.feed(b"+++x", 2.0, 1.0) == (b"+++x", False)      # data right after: payload
    g = EscapeGuard(last_rx=0.0)
    assert g.feed(b"a+++", 0.5, 1.0) == (b"a+++", False)      # no silence before


def test_prompt_feed_fixed_length_ctrl_z_esc_and_overflow():
    s = _socket()
    assert Prompt(s, 3, False).feed(b"abcdef", False) == (3, "send")
    assert Prompt(s, 2, True).feed(b"41424", False) == (4, "send")
    assert Prompt(s, None, False).feed(b"ab\x1aX", False) == (3, "send")
    assert Prompt(s, None, False).feed(b"ab\x1b", False) == (3, "cancel")
    assert Prompt(s, None, False).feed(b"ab\x1b", True) == (3, "send")
    assert Prompt(s, None, False).feed(b"x" * (MAX_SEND + 1), False) == (MAX_SEND + 1, "overflow")
