"""A recording served as a modem on a real pty: the thin I/O shell around
:class:`atconform.replay.player.Player`.

Two uses, one class:

* ``atconform emulate --replay DIR``: on real time, ``sequential`` (the player finds the
  test boundaries itself, as a modem on a port must), behind a stable ``link`` path;
* ``pytest --replay DIR``: in process, in place of the built-in emulator, on the run's
  virtual clock, so a replay costs no wall time; the fixtures name each test's start and
  end (:meth:`ReplayServer.begin`, :meth:`ReplayServer.finish`). It is a drop-in for
  :class:`atconform.emulator.Emulator` as far as the link needs one: ``path``, ``start``,
  ``stop``, ``power_cycle``. A pty rather than a pyserial URL handler because the
  channel's reader, the virtual clock's idle probe and ``--port`` all work on a real tty.

A divergence ends with a hang-up: once the divergent line is complete (its CR) or
:attr:`ReplayServer.HANGUP_AFTER` seconds passed, the pty is closed, so the DTE's port
fails (``PortLost``: verdict ``error``), and a new pty serves the tests that follow
(``path`` changes; ``link``, like ``/dev/serial/by-id/...``, follows it).
"""
from __future__ import annotations

import os
from typing import Callable

from atconform.emulator.pty import PtyPort
from atconform.emulator.runtime import Loop
from atconform.replay.player import Divergence, Player
from atconform.replay.recording import Recording

EPSILON = 1e-9      # a timer that fires at a due time computed in floats may land a hair before it


class ReplayServer:
    """Serve ``recording`` on a pty. ``clock``: the loop's clock (default real time);
    ``sequential``: see :class:`~atconform.replay.player.Player`; ``link``: a path kept as a
    symlink to the pty in use; ``on_divergence(div)``: called on the loop thread at each
    hang-up, with the player already at the segment that comes next."""

    HANGUP_AFTER = 0.5      # seconds a divergent line may take to reach its CR

    def __init__(self, recording: Recording, *, clock=None, sequential: bool = True, link: str | None = None,
                 on_divergence: Callable[[Divergence], None] | None = None):
        self.recording = recording
        self.model = recording.model
        self.loop = Loop(clock)
        self.player = Player(recording, sequential=sequential, start=self.loop.clock.now())
        self.link = link
        self.on_divergence = on_divergence
        self.hangups = 0
        self._timer = None
        self._hangup = None
        self._hung: Divergence | None = None     # the divergence already hung up for
        self._open_pty()

    @property
    def url(self) -> str:
        """What a DTE opens: the stable link when there is one, else the pty."""
        return self.link or self.path

    def _open_pty(self) -> None:
        self.port = PtyPort(self.loop, self._input)
        self.path = self.port.path
        if self.link:
            tmp = self.link + ".new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link)      # atomic: a DTE never finds the link missing

    # -- the loop thread ---------------------------------------------------------------------
    def _input(self, data: bytes) -> None:
        self.player.receive(data, self.loop.clock.now())
        div = self.player.divergence
        if div is not None and div is not self._hung and (self._hangup is None or div.complete):
            self.loop.cancel(self._hangup)
            self._hangup = self.loop.call_later(0 if div.complete else self.HANGUP_AFTER, self._hang_up)
        self._pump()

    def _pump(self) -> None:
        now = self.loop.clock.now()
        out = self.player.take(now + EPSILON)
        if out:
            self.port.write(out)
        self.loop.cancel(self._timer)
        due = self.player.next_due()
        self._timer = None if due is None else self.loop.call_later(max(0.0, due - now), self._pump)

    def _hang_up(self) -> None:
        self._hangup = None
        div = self.player.divergence
        if div is None:
            return
        self._hung = div
        old = self.port
        self._open_pty()        # the new pty first: the DTE sees the hang-up once it can reopen
        old.close()
        self.hangups += 1
        if self.player.sequential:
            self.player.resume(self.loop.clock.now())
        if self.on_divergence is not None:
            self.on_divergence(div)
        self._pump()

    def _begin(self, name: str) -> Divergence | None:
        self.port.read_now()        # the earlier test's last bytes are the earlier test's
        self.loop.cancel(self._hangup)
        self._hangup = None
        div = self.player.begin(name, self.loop.clock.now())
        self._pump()
        return div

    def _finish(self) -> Divergence | None:
        self.port.read_now()
        return self.player.finish(self.loop.clock.now())

    # -- from other threads ------------------------------------------------------------------
    def _control(self, fn):
        # on the loop thread while it runs; directly once it has stopped (the run's end)
        t = self.loop.thread
        return self.loop.call(fn) if t is not None and t.is_alive() else fn()

    def begin(self, name: str) -> Divergence | None:
        """The test ``name`` (nodeid) starts: play its segment (not sequential). Returns the
        earlier test's unplayed remainder as a divergence, if any."""
        return self._control(lambda: self._begin(name))

    def finish(self) -> Divergence | None:
        """The current test ends: a divergence (``missing``) when DTE bytes the recording
        has for it did not come."""
        return self._control(self._finish)

    def divergences(self, name: str | None = None) -> list[Divergence]:
        """The divergences so far (of the segment ``name`` only, when given)."""
        return self._control(lambda: [d for d in self.player.divergences if name is None or d.segment == name])

    # a power switch (atconform.families.base.PowerSwitch) that switches nothing: the
    # recording holds what the modem said around its power cycle
    def power_cycle(self) -> None:
        """Nothing to do (see :meth:`off`)."""

    def off(self) -> None:
        """Nothing to do: the recording holds what the modem said after its power cut."""

    def on(self) -> None:
        """Nothing to do: the recording holds what the modem said at power-on."""

    @property
    def powered(self) -> bool:
        return True

    def start(self) -> "ReplayServer":
        self.loop.start_thread("replay-loop")
        return self

    def serve_forever(self) -> None:
        self.loop.run_forever()

    def stop(self) -> None:
        self.loop.stop()
        if not self.port.closed:
            self.port.close()
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
