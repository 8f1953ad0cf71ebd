"""Engine robustness against real firmware output (issue 10 item 4), each built from a
byte sequence of that shape and fed in every chunking (``run`` of test_framer)."""
import os
import threading
import time

import pytest

from atconform.protocol.commands import match_line, strip_spaces
from atconform.protocol.engine import AtEngine, Transaction, check_response
from atconform.protocol.framer import Data, Final, FreeText, InfoLine, Intermediate, Mode, Prompt
from atconform.transport.channel import Channel, LateFinal, NoFinalResult
from test_framer import BG96, chunkings, run, v1


def engine_after(line: str, dce: bytes, *, prompt=False):
    """The engine after ``line`` and ``dce`` in every chunking (they must agree)."""
    states = []
    for chunks in chunkings(line.encode() + b"\r" + dce):
        eng = AtEngine(BG96)
        eng.command(line, prompt=prompt)
        evs = []
        for c in chunks:
            evs += eng.feed(c)
        data = b"".join(e.data for e in evs if isinstance(e, Data))   # data comes in any pieces
        states.append(([e for e in evs if not isinstance(e, Data)], data, eng.framer.mode))
    assert all(s == states[0] for s in states)
    return states[0][0], states[0][2]


# ------------------------------------------------------------------ CONNECT
def test_connect_of_an_upload_is_intermediate_and_the_session_goes_on():
    # AT+QFUPL (not a data-mode entry): CONNECT, the upload, its result, OK; then a command
    evs, mode = engine_after('AT+QFUPL="UFS:a.txt",10', v1("CONNECT", "+QFUPL: 10,613e", "OK"))
    assert mode is Mode.COMMAND
    assert [type(e).__name__ for e in evs] == ["Echo", "Intermediate", "InfoLine", "Final"]
    assert evs[-1].text == "OK"
    eng = AtEngine(BG96)
    eng.command('AT+QFUPL="UFS:a.txt",10')
    eng.feed(b'\r\nCONNECT\r\n\r\n+QFUPL: 10,613e\r\n\r\nOK\r\n')
    eng.command("AT+QIACT?")
    evs = eng.feed(b'\r\n+QIACT: 1,1,1,"10.0.0.1"\r\n\r\nOK\r\n')
    assert evs == [InfoLine('+QIACT: 1,1,1,"10.0.0.1"'), Final("OK", BG96.result_code("OK"))]


@pytest.mark.parametrize("line", ['AT+QIOPEN=1,0,"TCP","10.0.0.1",80,0,2', "AT+QISWTMD=0,2", "ATO",
                                  'AT+QIOPEN=1, 0, "TCP", "10.0.0.1", 80, 0, 2'])
def test_connect_enters_data_mode_only_for_the_spec_entries(line):
    evs, mode = engine_after(line, v1("CONNECT") + b"raw bytes")
    assert mode is Mode.DATA and isinstance(evs[1], Final) and evs[1].text == "CONNECT"


def test_connect_to_a_command_without_entry_stays_in_command_mode():
    evs, mode = engine_after("AT+QIACT=1", v1("CONNECT", "OK"))
    assert mode is Mode.COMMAND and isinstance(evs[1], Intermediate) and evs[2].text == "OK"


def test_data_mode_entry_must_be_a_final_of_the_variant():
    from atconform.spec.models import Variant
    with pytest.raises(ValueError, match="data_mode_entry"):
        Variant(final=["OK", "ERROR"], data_mode_entry="CONNECT")


# ------------------------------------------------------------------ '>' prompt
def test_prompt_of_a_command_the_spec_lacks_when_marked_a_data_command():
    evs, _ = engine_after("AT+QSSLSEND=0,5", b"\r\n> ", prompt=True)
    assert evs[1] == Prompt(BG96.framing.prompt)
    evs, _ = engine_after("AT+QSSLSEND=0,5", b"\r\n> \r\n")
    assert not any(isinstance(e, Prompt) for e in evs)     # unmarked: just text


# ------------------------------------------------------------------ spaces (V.250 §5.2.1)
def test_spaces_after_commas_pick_the_right_variant():
    m = match_line(BG96, '+QIOPEN=1, 0, "UDP SERVICE", "127.0.0.1", 0, 3030, 0')
    assert m.ok and m.variant.name == "default" and m.values["service_type"] == "UDP SERVICE"
    m = match_line(BG96, '+QIOPEN=1, 0, "TCP", "10.0.0.1", 80, 0, 2')
    assert m.ok and m.variant.name == "transparent"
    assert strip_spaces('=1 2, "a  b" ') == '=1 2,"a  b"'     # in numbers and strings they stay
    assert not match_line(BG96, "+QIACT=1 2").ok


# ------------------------------------------------------------------ free text
def test_free_text_during_a_command_is_not_its_information_text():
    evs = run("AT+QIACT=1", v1("[boot] dbg: pdp up", "OK"))
    assert isinstance(evs[1], FreeText) and evs[1].text == "[boot] dbg: pdp up"
    eng = AtEngine(BG96)
    _, m = eng.command("AT+QIACT=1")
    t = Transaction("AT+QIACT=1", m, 0.0)
    for ev in evs:
        t.add(ev, 0.0)
    assert t.response.info == [] and t.response.ok
    assert [p.clause for p in check_response(BG96, t.response)] == ["free-text"]


def test_raw_templates_and_unknown_commands_keep_their_text():
    assert isinstance(run("ATI", v1("Quectel", "BG96", "Revision: X", "OK"))[1], InfoLine)
    assert isinstance(run("AT+LABCMD", v1("anything at all", "OK"))[1], InfoLine)


# ------------------------------------------------------------------ framing deviations
def test_final_ending_in_lf_alone_is_a_deviation_of_its_command():
    evs = run("AT+QIACT=1", b"\r\nOK\n")
    assert evs[-1].text == "OK" and "V.250 §5.7.1" in evs[-1].framing
    eng = AtEngine(BG96)
    _, m = eng.command("AT+QIACT=1")
    t = Transaction("AT+QIACT=1", m, 0.0)
    for ev in evs:
        t.add(ev, 0.0)
    assert [p.clause for p in check_response(BG96, t.response)] == ["framing"]
    assert run("AT+QIACT=1", b"\r\nOK\r\n")[-1].framing is None


class FakeDce:
    """A scripted DCE on a pty: for each command line read, writes the next answer."""

    def __init__(self, answers):
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        self.answers = list(answers)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        buf = b""
        while self.answers:
            try:
                buf += os.read(self.master, 1024)
            except OSError:
                return
            while b"\r" in buf and self.answers:
                _, buf = buf.split(b"\r", 1)
                delay, out = self.answers.pop(0)
                time.sleep(delay)
                os.write(self.master, out)

    def close(self):
        os.close(self.master)
        os.close(self._slave)


def test_a_late_final_is_its_own_commands_not_the_next_ones():
    # echo on: "AT+QIACT=1" answers OK after its maximum time, while AT+QIACT? is sent
    dce = FakeDce([(0, b"AT\r\r\nOK\r\n"), (0, b"AT+QIACT=1\r"),
                   (0.3, b'\r\nOK\r\nAT+QIACT?\r\r\n+QIACT: 1,1,1,"10.0.0.1"\r\n\r\nOK\r\n')])
    ch = Channel(BG96, dce.path).open()
    seen = []
    ch.add_problem_listener(seen.append)
    try:
        assert ch.command("AT").ok
        with pytest.raises(NoFinalResult):
            ch.command("AT+QIACT=1", timeout=0.1)
        r = ch.command("AT+QIACT?")
        assert r.ok and r.lines == ['+QIACT: 1,1,1,"10.0.0.1"']
        late = [e for e in seen if isinstance(e, LateFinal)]
        assert len(late) == 1 and late[0].response.line == "AT+QIACT=1"
        assert [p.clause for p in check_response(BG96, late[0].response)] == ["late-final"]
    finally:
        ch.close()
        dce.close()


def test_a_late_final_while_idle_is_reported_and_not_given_to_the_next_command():
    dce = FakeDce([(0.2, b"\r\nOK\r\n"), (0, b"\r\nERROR\r\n")])
    ch = Channel(BG96, dce.path).open()
    seen = []
    ch.add_problem_listener(seen.append)
    try:
        with pytest.raises(NoFinalResult):
            ch.command("AT+QIACT=1", timeout=0.1)
        time.sleep(0.4)
        assert ch.command("AT+QIACT=2").final.text == "ERROR"
        assert [e.response.line for e in seen if isinstance(e, LateFinal)] == ["AT+QIACT=1"]
    finally:
        ch.close()
        dce.close()


def test_channel_writes_data_after_the_prompt_of_a_marked_command():
    got = []
    dce = FakeDce([(0, b"\r\n> ")])
    ch = Channel(BG96, dce.path).open()
    try:
        def answer():
            # the scripted DCE reads the command line and writes the prompt first: reading
            # the master before it is done would take the command line from it (a race a
            # loaded CI machine lost)
            dce.t.join(5)
            deadline = time.monotonic() + 5
            buf = b""
            while b"hello" not in buf and time.monotonic() < deadline:
                buf += os.read(dce.master, 100)
            got.append(buf)
            os.write(dce.master, b"\r\nSEND OK\r\n")
        threading.Thread(target=answer, daemon=True).start()
        r = ch.command("AT+QSSLSEND=0,5", data=b"hello", prompt=True, timeout=5)
        assert r.prompt and r.final.text == "SEND OK" and got and got[0].endswith(b"hello")
    finally:
        ch.close()
        dce.close()
