"""The emulator's event loop: one thread, ``selectors`` for the pty and real sockets,
timers on a clock, and thread-safe calls in from test fixtures.

Sockets are real (loopback by default) so the bytes a test's peer receives are the
bytes the emulated modem sent.
"""
from __future__ import annotations

import heapq
import itertools
import os
import selectors
import socket
import sys
import threading
import traceback
from concurrent.futures import Future
from typing import Any, Callable

from atconform.clock import RealClock


class Loop:
    """Single-threaded reactor. All emulator state is touched only from its thread."""

    def __init__(self, clock=None):
        self.clock = clock or RealClock()
        self.sel = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._calls: list[Callable[[], None]] = []
        self._calls_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._drain_wake)
        self._stopping = False
        self._closed = False
        self._wake_lock = threading.Lock()     # no wake-up write once the pipe is closed
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.errors: list[BaseException] = []   # exceptions raised by callbacks

    # -- registration ------------------------------------------------------------------
    def add_reader(self, fileobj, cb: Callable[[], None]) -> None:
        self._modify(fileobj, selectors.EVENT_READ, cb, None)

    def remove_reader(self, fileobj) -> None:
        self._modify(fileobj, selectors.EVENT_READ, None, None, remove=True)

    def add_writer(self, fileobj, cb: Callable[[], None]) -> None:
        self._modify(fileobj, selectors.EVENT_WRITE, None, cb)

    def remove_writer(self, fileobj) -> None:
        self._modify(fileobj, selectors.EVENT_WRITE, None, None, remove=True)

    def _modify(self, fileobj, mask, rcb, wcb, remove=False) -> None:
        try:
            key = self.sel.get_key(fileobj)
            cur_mask, (cur_r, cur_w) = key.events, key.data
        except (KeyError, ValueError):
            cur_mask, cur_r, cur_w = 0, None, None
        if remove:
            new_mask = cur_mask & ~mask
            if mask & selectors.EVENT_READ:
                cur_r = None
            if mask & selectors.EVENT_WRITE:
                cur_w = None
        else:
            new_mask = cur_mask | mask
            cur_r = rcb if rcb is not None else cur_r
            cur_w = wcb if wcb is not None else cur_w
        if cur_mask and not new_mask:
            self.sel.unregister(fileobj)
        elif not cur_mask and new_mask:
            self.sel.register(fileobj, new_mask, (cur_r, cur_w))
        elif new_mask:
            self.sel.modify(fileobj, new_mask, (cur_r, cur_w))

    def forget(self, fileobj) -> None:
        try:
            self.sel.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    # -- timers and calls -----------------------------------------------------------
    def call_later(self, delay: float, cb: Callable[[], None]) -> list:
        """Run ``cb`` after ``delay`` seconds; returns a handle for :meth:`cancel`."""
        entry = [self.clock.now() + max(0.0, delay), next(self._seq), cb]
        heapq.heappush(self._timers, entry)  # type: ignore[arg-type]
        return entry

    @staticmethod
    def cancel(handle: list | None) -> None:
        if handle is not None:
            handle[2] = None

    def call_soon_threadsafe(self, cb: Callable[[], None]) -> None:
        with self._calls_lock:
            self._calls.append(cb)
        self._wake()

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn`` on the loop thread and return its result (from another thread)."""
        if threading.current_thread() is self.thread:
            return fn()
        fut: Future = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed back to the caller
                fut.set_exception(e)

        self.call_soon_threadsafe(run)
        return fut.result(timeout)

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    # -- running --------------------------------------------------------------------
    def _wake(self) -> None:
        with self._wake_lock:
            if self._closed:
                return
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass

    def _interest(self) -> tuple[list[int], list[int]]:
        """File descriptors this loop waits on, for the virtual clock's idle probe."""
        rd, wr = [], []
        for key in list(self.sel.get_map().values()):
            if key.events & selectors.EVENT_READ:
                rd.append(key.fd)
            if key.events & selectors.EVENT_WRITE:
                wr.append(key.fd)
        return rd, wr

    def run_once(self, max_wait: float = 0.5) -> None:
        clock = self.clock
        while self._timers and self._timers[0][2] is None:   # cancelled
            heapq.heappop(self._timers)
        with self._calls_lock:
            calls_pending = bool(self._calls)
        if clock.virtual:
            # Virtual time: block in select() as a party of the clock; when every party
            # idles, the clock jumps to the earliest deadline (ours: the next timer) and
            # wakes us through the self-pipe. max_wait is then a wall-clock guard only.
            if calls_pending or (self._timers and self._timers[0][0] <= clock.now()):
                events = self.sel.select(0)
            else:
                deadline = self._timers[0][0] if self._timers else None
                with clock.io_blocked(deadline=deadline, wake=self._wake, fds=self._interest):
                    events = self.sel.select(max_wait)
        else:
            timeout = max_wait
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - clock.now()))
            if calls_pending:
                timeout = 0
            events = self.sel.select(timeout)
        for key, mask in events:
            for bit, idx in ((selectors.EVENT_READ, 0), (selectors.EVENT_WRITE, 1)):
                if not mask & bit:
                    continue
                # an earlier callback of this batch may have closed or re-registered it
                try:
                    cur = self.sel.get_key(key.fileobj)
                except (KeyError, ValueError):
                    break
                cb = cur.data[idx] if isinstance(cur.data, tuple) else (cur.data if idx == 0 else None)
                if cb is not None:
                    self._safe(cb)
        with self._calls_lock:
            calls, self._calls = self._calls, []
        for cb in calls:
            self._safe(cb)
        now = self.clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, _, cb = heapq.heappop(self._timers)
            if cb is not None:
                self._safe(cb)

    def _safe(self, cb: Callable[[], None]) -> None:
        # A bug in one handler must not kill the emulated modem for every later test:
        # keep serving, remember the error for self-tests, and say it on stderr.
        try:
            cb()
        except Exception as e:
            self.errors.append(e)
            traceback.print_exc(file=sys.stderr)

    def run_forever(self) -> None:
        self.thread = threading.current_thread()
        self.clock.attach(self.thread.name)
        try:
            while not self._stopping:
                self.run_once()
        except BaseException as e:
            self.error = e
            raise
        finally:
            self.clock.detach()

    def start_thread(self, name: str = "emulator-loop") -> threading.Thread:
        t = threading.Thread(target=self.run_forever, name=name, daemon=True)
        self.thread = t
        t.start()
        return t

    def stop(self) -> None:
        self._stopping = True
        self.call_soon_threadsafe(lambda: None)
        if self.thread and self.thread is not threading.current_thread():
            self.thread.join(5)
            if not self.thread.is_alive():
                self.close()

    def close(self) -> None:
        """Release the selector and the wake-up pipe once the loop has stopped. (Each
        emulator leaked three descriptors; after about 500 in one process, pyserial's
        select() failed with "filedescriptor out of range", found by ``make fuzz``.)"""
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
            self.sel.close()
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass


class Net:
    """Real sockets for the emulated modem, driven by the loop. Callbacks run on the loop
    thread. Loopback unless the IXIT names other peers."""

    def __init__(self, loop: Loop):
        self.loop = loop

    def tcp_connect(self, host: str, port: int, local: tuple[str, int] | None,
                    on_done: Callable[[socket.socket | None, int], None]) -> None:
        """Non-blocking connect to ``host``, an IP address (names are the emulated
        modem's to resolve through its own DNS, never the host OS's: AI_NUMERICHOST);
        ``on_done(sock, err)`` with err 0 or a BG96 error code (565 not an address, 556
        bind failed, 566 connect failed)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except OSError:
            self.loop.call_later(0, lambda: on_done(None, 565))
            return
        family, _, _, _, addr = infos[0]
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        if local and local[1]:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(local)
            except OSError:
                s.close()
                self.loop.call_later(0, lambda: on_done(None, 556))
                return
        try:
            s.connect(addr)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            self.loop.call_later(0, lambda: on_done(None, 566))
            return

        def writable() -> None:
            self.loop.forget(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                s.close()
                on_done(None, 566)
            else:
                on_done(s, 0)

        self.loop.add_writer(s, writable)

    def udp_socket(self, host: str | None, port: int, local: tuple[str, int]) -> tuple[socket.socket | None, int]:
        """A bound (and, for a client, connected) UDP socket, or (None, error code)."""
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.bind(local)
        except OSError:
            return None, 556
        if host is not None:
            try:
                addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM,
                                          flags=socket.AI_NUMERICHOST)[0][4]   # addresses only
                s.connect(addr)
            except OSError:
                s.close()
                return None, 565
        return s, 0

    def tcp_listen(self, local: tuple[str, int]) -> tuple[socket.socket | None, int]:
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(local)
        except OSError:
            return None, 556
        try:
            s.listen(8)
        except OSError:
            s.close()
            return None, 557
        s.setblocking(False)
        return s, 0
