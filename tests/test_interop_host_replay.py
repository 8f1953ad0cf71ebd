"""Interoperability (issue 10 item 5): the call sequence an embedded host library's BG96
driver sends, replayed byte for byte on the emulator's pty with plain pyserial: CRLF
after every command line, data written right after ``>``, ``AT+CFUN=1,1`` then waiting
for ``APP RDY``, ``AT+QIRD=<id>,0`` polling, ``AT+QISTATE=1,<id>``; 1, 100 and 1460-byte
writes and 10,000 bytes in chunks come back byte for byte."""
import os
import time

import pytest
import serial

from atconform.emulator import Emulator
from atconform.peers import TcpEcho


class Host:
    """What the host library does: write a line with CRLF, read until a marker."""

    def __init__(self, path: str):
        self.ser = serial.Serial(path, 115200, timeout=0.05)
        self.buf = b""

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            assert time.monotonic() < deadline, f"no {marker!r}; got {self.buf[-300:]!r}"
            self.buf += self.ser.read(self.ser.in_waiting or 1)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_n(self, n: int, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            assert time.monotonic() < deadline, f"{len(self.buf)} of {n} bytes"
            self.buf += self.ser.read(self.ser.in_waiting or 1)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def cmd(self, line: str, until: bytes = b"OK\r\n", timeout: float = 10.0) -> bytes:
        self.ser.write(line.encode() + b"\r\n")
        return self.read_until(until, timeout)


@pytest.fixture
def host():
    emu = Emulator("bg96").start()
    echo = TcpEcho().start()
    h = Host(emu.path)
    h.echo = echo
    yield h
    h.ser.close()
    echo.stop()
    emu.stop()
    assert not emu.loop.errors and not emu.modem.handler_errors


def _read_back(h: Host, n: int) -> bytes:
    got = b""
    deadline = time.monotonic() + 10
    while len(got) < n:
        assert time.monotonic() < deadline, f"{len(got)} of {n} bytes back"
        h.cmd("AT+QIRD=0,0")                       # the library polls the counters
        h.ser.write(b"AT+QIRD=0,1500\r\n")
        h.read_until(b"+QIRD: ")
        k = int(h.read_until(b"\r\n")[:-2])
        got += h.read_n(k)                         # exactly <read_actual_length> bytes
        h.read_until(b"OK\r\n")
        if not k:
            time.sleep(0.01)
    return got


def test_embedded_host_call_sequence(host):
    h = host
    h.cmd("ATE0")
    h.cmd("AT+CFUN=1,1")
    h.read_until(b"APP RDY", 30)                   # the library waits for the boot URCs
    h.cmd("ATE0")
    h.cmd("AT+QIACT=1", timeout=30)
    h.cmd(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{h.echo.port},0,0')
    h.read_until(b"+QIOPEN: 0,0", 30)
    assert b'+QISTATE: 0,"TCP"' in h.cmd("AT+QISTATE=1,0")
    for size in (1, 100, 1460):
        data = os.urandom(size)
        h.ser.write(f"AT+QISEND=0,{size}\r\n".encode())
        h.read_until(b"> ")
        h.ser.write(data)                          # right after the prompt
        h.read_until(b"SEND OK\r\n")
        assert _read_back(h, size) == data
    big = os.urandom(10_000)
    for i in range(0, len(big), 1460):
        chunk = big[i:i + 1460]
        h.ser.write(f"AT+QISEND=0,{len(chunk)}\r\n".encode())
        h.read_until(b"> ")
        h.ser.write(chunk)
        h.read_until(b"SEND OK\r\n")
    assert _read_back(h, len(big)) == big
    h.cmd("AT+QICLOSE=0")
