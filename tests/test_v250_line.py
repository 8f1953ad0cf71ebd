"""V.250 command-line handling of the emulator's DCE (atconform.emulator.dce), byte for
byte through the pty, as a host library drives it: ``AT...\\r\\n`` lines, data right
after ``>``, any chunking.

V.250 §5.2.1: S3 ends a line; what follows up to the next ``AT`` (the LF after CR) is
no command and no payload. §5.2.4 A/, §6.2.1-6.2.3 S3/S4/S5, §6.2.4 echo, §6.2.5 ATQ,
§6.1.3 ATI as one information text.
"""
import random
import re
import time

import pytest
import serial


class Raw:
    """The pty as a bare byte pipe (pyserial, no framer): exact bytes both ways."""

    def __init__(self, path: str):
        self.s = serial.Serial(path, timeout=0.05)
        self.buf = bytearray()

    def write(self, *chunks: bytes, gap: float = 0.0) -> None:
        for c in chunks:
            self.s.write(c)
            self.s.flush()
            if gap:
                time.sleep(gap)

    def until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Everything up to and including ``marker``; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s; got {bytes(self.buf)!r}"
            self.buf += self.s.read(4096)
        i = self.buf.index(marker) + len(marker)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def quiet_for(self, seconds: float) -> bytes:
        """What arrives within ``seconds`` (expected: nothing)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.buf += self.s.read(4096)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def cmd(self, line: bytes, final: bytes = b"\r\nOK\r\n") -> bytes:
        """The response to ``line`` up to ``final``, "recv" URCs of the echo peer left out."""
        self.write(line)
        return _URC.sub(b"", self.until(final))

    def close(self) -> None:
        self.s.close()


@pytest.fixture
def raw(emu):
    r = Raw(emu.path)
    r.cmd(b"ATE0\r\n")
    yield r
    r.close()


_URC = re.compile(rb'\r\n\+QIURC: "recv",\d+\r\n')


def _splits(data: bytes):
    """Every way of cutting ``data`` into two writes, and one byte a write."""
    yield "whole", [data]
    for i in range(1, len(data)):
        yield f"cut{i}", [data[:i], data[i:]]
    yield "bytewise", [bytes([b]) for b in data]


def _open_socket(raw, echo, cnid=0, eol=b"\r\n"):
    raw.cmd(b"AT+QIACT=1" + eol)
    raw.cmd(f'AT+QIOPEN=1,{cnid},"TCP","127.0.0.1",{echo.port},0,0'.encode() + eol)
    raw.until(f"+QIOPEN: {cnid},0\r\n".encode())


def _peer_bytes(echo, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with echo.lock:
            got = bytes(echo.received[0]) if echo.received else b""
        if len(got) >= n:
            return got
        time.sleep(0.01)
    return got


def _read_back(raw, n: int) -> bytes:
    """``n`` bytes through AT+QIRD=0,<len> lines ending in CR LF (§2.1.8)."""
    out = bytearray()
    deadline = time.monotonic() + 10
    while len(out) < n:
        assert time.monotonic() < deadline, f"read back {len(out)} of {n} bytes"
        raw.write(b"AT+QIRD=0,1500\r\n")
        head = raw.until(b"\r\n", 5)
        while head == b"\r\n" or head.startswith(b"+QIURC:"):
            head = raw.until(b"\r\n", 5)
        assert head.startswith(b"+QIRD: "), head
        k = int(head[7:-2])
        body = b""
        if k:
            while len(raw.buf) < k + 2:
                raw.buf += raw.s.read(4096)
            body = bytes(raw.buf[:k])
            del raw.buf[:k]
        raw.until(b"\r\nOK\r\n")
        out += body
        if not k:
            time.sleep(0.02)
    return bytes(out)


# ---------------------------------------------------------------- §5.2.1 S3 then S4
@pytest.mark.parametrize("label,chunks", list(_splits(b"AT+QISEND=0,1\r\n")))
def test_lf_after_s3_is_not_payload_in_any_chunking(raw, echo, label, chunks):
    _open_socket(raw, echo)
    raw.write(*chunks, gap=0.002)
    assert raw.until(b"> ").endswith(b"\r\n> ")
    raw.write(b"X")
    assert raw.until(b"SEND OK\r\n") == b"\r\nSEND OK\r\n"
    assert _peer_bytes(echo, 1) == b"X"
    # the next command is not eaten by a byte left behind in the line buffer
    assert raw.cmd(b"AT+QISEND=0,0\r\n") == b"\r\n+QISEND: 1,1,0\r\n\r\nOK\r\n"


def test_prompt_waits_for_the_s4_of_its_line(raw, echo):
    _open_socket(raw, echo)
    raw.write(b"AT+QISEND=0,2\r")           # the host's LF comes in a later write
    assert raw.quiet_for(0.1) == b""        # no prompt before the line is complete
    raw.write(b"\n")
    assert raw.until(b"> ") == b"\r\n> "
    raw.write(b"\r\n")                      # payload that is itself CR LF
    assert raw.until(b"SEND OK\r\n") == b"\r\nSEND OK\r\n"
    assert _peer_bytes(echo, 2) == b"\r\n"


def test_cr_only_host_gets_the_prompt_at_once_and_lf_is_data(emu, echo):
    raw = Raw(emu.path)
    try:
        raw.cmd(b"ATE0\r")
        _open_socket(raw, echo, eol=b"\r")
        raw.write(b"AT+QISEND=0,2\r")
        assert raw.until(b"> ", 0.3) == b"\r\n> "   # held S4_GRACE only: this DTE sends no S4
        raw.write(b"\nZ")
        raw.until(b"SEND OK\r\n")
        assert _peer_bytes(echo, 2) == b"\nZ"
    finally:
        raw.close()


@pytest.mark.parametrize("n", [1, 100, 1460])
def test_host_library_write_round_trips(raw, echo, n):
    _open_socket(raw, echo)
    payload = bytes(random.Random(n).randrange(256) for _ in range(n))
    raw.write(f"AT+QISEND=0,{n}\r\n".encode())
    raw.until(b"\r\n> ")
    raw.write(payload)
    raw.until(b"\r\nSEND OK\r\n")
    assert _peer_bytes(echo, n) == payload
    assert _read_back(raw, n) == payload


def test_ten_thousand_bytes_in_chunks_round_trip(raw, echo):
    _open_socket(raw, echo)
    rng = random.Random(10000)
    payload = bytes(rng.randrange(256) for _ in range(10_000))
    sent = 0
    while sent < len(payload):
        part = payload[sent:sent + 1460]
        raw.write(f"AT+QISEND=0,{len(part)}\r\n".encode())
        raw.until(b"\r\n> ")
        raw.write(*[part[i:i + 333] for i in range(0, len(part), 333)])
        raw.until(b"\r\nSEND OK\r\n")
        sent += len(part)
    assert _peer_bytes(echo, len(payload)) == payload
    assert _read_back(raw, len(payload)) == payload


def test_after_the_payload_characters_up_to_at_are_discarded(raw, echo):
    _open_socket(raw, echo)
    raw.write(b"AT+QISEND=0,3\r\n")
    raw.until(b"\r\n> ")
    raw.write(b"abc\r\n%#AT+QISEND=0,0\r\n")    # trailing CR LF and noise: no command
    raw.until(b"\r\nSEND OK\r\n")
    assert _URC.sub(b"", raw.until(b"\r\nOK\r\n")) == b"\r\n+QISEND: 3,3,0\r\n\r\nOK\r\n"


def test_noise_before_at_is_ignored_not_answered(raw):
    assert raw.cmd(b"\r\n\n  xyz\rAT\r\n") == b"\r\nOK\r\n"
    assert raw.quiet_for(0.1) == b""


# ---------------------------------------------------------------- §6.2.4 echo
@pytest.mark.parametrize("label,chunks", list(_splits(b"AT+CMEE?\r\n")))
def test_echo_is_the_command_line_only(raw, label, chunks):
    raw.cmd(b"ATE1\r\n")
    raw.write(*chunks, gap=0.002)
    assert raw.until(b"\r\nOK\r\n") == b"AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"
    assert raw.quiet_for(0.1) == b""        # the LF is not echoed after the result code
    raw.cmd(b"ATE0\r\n")


def test_echo_with_backspace(raw):
    raw.cmd(b"ATE1\r\n")
    raw.write(b"AT+CMEX\x08E?\r\n")
    assert raw.until(b"\r\nOK\r\n") == b"AT+CMEX\x08E?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"
    raw.cmd(b"ATE0\r\n")


# ---------------------------------------------------------------- §6.1.3 ATI
def test_ati_bytes(raw):
    assert raw.cmd(b"ATI\r\n") == b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n"


# ---------------------------------------------------------------- §5.2.4 A/
def test_a_slash_repeats_the_last_line(raw):
    first = raw.cmd(b"AT+CMEE?\r\n")
    raw.write(b"A/")                        # no terminator (§5.2.4)
    assert raw.until(b"\r\nOK\r\n") == first
    raw.write(b"a/")
    assert raw.until(b"\r\nOK\r\n") == first


# ---------------------------------------------------------------- §6.2.1-6.2.2 S3, S4
def test_s3_s4_read_and_set(raw):
    assert raw.cmd(b"ATS3?\r\n") == b"\r\n013\r\n\r\nOK\r\n"
    assert raw.cmd(b"ATS4?\r\n") == b"\r\n010\r\n\r\nOK\r\n"
    raw.write(b"ATS4=13\r\n")               # the line's own result code uses the new S4
    assert raw.until(b"\r\rOK\r\r") == b"\r\rOK\r\r"
    raw.write(b"ATS4=10\r")
    raw.until(b"\r\nOK\r\n")
    raw.write(b"ATS3=36\r")                 # '$' ends lines from now on
    assert raw.until(b"$\nOK$\n") == b"$\nOK$\n"
    raw.write(b"AT+CMEE?$")
    assert raw.until(b"OK$\n") == b"$\n+CMEE: 0$\n$\nOK$\n"
    raw.write(b"ATS3=13$")
    raw.until(b"\r\nOK\r\n")
    assert raw.cmd(b"ATS3=128\r\n", b"\r\nERROR\r\n") == b"\r\nERROR\r\n"
    assert raw.cmd(b"ATS99?\r\n", b"\r\nERROR\r\n") == b"\r\nERROR\r\n"


# ---------------------------------------------------------------- §6.2.5 ATQ
def test_atq1_suppresses_result_codes_not_information_text(raw):
    raw.write(b"ATQ1\r\n")
    assert raw.quiet_for(0.15) == b""
    raw.write(b"AT+CMEE?\r\n")
    assert raw.until(b"+CMEE: 0\r\n") == b"\r\n+CMEE: 0\r\n"
    raw.write(b"AT+NOSUCH\r\n")
    assert raw.quiet_for(0.15) == b""       # no ERROR either
    assert raw.cmd(b"ATQ0\r\n") == b"\r\nOK\r\n"


def test_power_on_restores_s_parameters_and_quiet(emu):
    raw = Raw(emu.path)
    try:
        raw.cmd(b"ATE0\r\n")
        raw.write(b"ATQ1\r\n")
        raw.quiet_for(0.1)
        emu.power_cycle()
        raw.until(b"RDY\r\n")
        raw.cmd(b"ATE0\r\n")                # OK again: Q back to 0
    finally:
        raw.close()
