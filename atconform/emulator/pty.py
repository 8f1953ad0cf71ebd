"""Pseudo-terminal front end: the emulator's DCE side of a real tty.

pyserial opens the slave path (``/dev/pts/N``) exactly as it opens ``/dev/ttyUSB2``.
The slave is put in raw mode (no echo, no CR/LF translation by the line discipline) so
the only echo is the emulated modem's own (ATE1), and its fd is held open so the pty
survives the DTE closing and reopening the port between tests.
"""
from __future__ import annotations

import errno
import os
import tty
from typing import Callable

from atconform.emulator.runtime import Loop


class PtyPort:
    """Owns a pty pair; feeds what the DTE writes to ``on_input`` and writes output
    without blocking the loop."""

    def __init__(self, loop: Loop, on_input: Callable[[bytes], None]):
        self.loop = loop
        self.on_input = on_input
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self._out = bytearray()
        self.closed = False
        loop.add_reader(self.master, self._readable)
        loop.clock.listen(self.path + ">dce")

    def _readable(self) -> int:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno == errno.EIO:  # no slave open right now: nothing to read
                return 0
            raise
        if data:
            self.loop.clock.received(self.path + ">dce", len(data))
            self.on_input(data)
        return len(data)

    def read_now(self) -> None:
        """Hand what the DTE has written so far to ``on_input`` now, not at the loop's
        next turn (loop thread only): for a caller that must see every byte before it acts."""
        while not self.closed and self._readable():
            pass

    def write(self, data: bytes) -> None:
        """Queue output to the DTE (loop thread only)."""
        if self.closed or not data:
            return
        was_empty = not self._out
        self._out += data
        if was_empty:
            self._flush()

    def _flush(self) -> None:
        clock = self.loop.clock
        while self._out:
            chunk = self._out[:4096]
            # counted before the write: the DTE may read it before os.write returns
            clock.sent(self.path + ">dte", len(chunk))
            try:
                n = os.write(self.master, chunk)
            except BlockingIOError:
                clock.received(self.path + ">dte", len(chunk))
                break
            clock.received(self.path + ">dte", len(chunk) - n)
            del self._out[:n]
        if self._out:
            self.loop.add_writer(self.master, self._flush)
        else:
            self.loop.remove_writer(self.master)

    def discard_output(self) -> None:
        """Drop output not yet taken by the DTE (power loss)."""
        self._out.clear()
        self.loop.remove_writer(self.master)

    def close(self) -> None:
        self.closed = True
        self.loop.forget(self.master)
        self.loop.clock.unlisten(self.path + ">dce")
        self.loop.clock.clear_flight(self.path + ">")
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
