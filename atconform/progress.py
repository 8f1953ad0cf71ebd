"""Progress lines for long waits on a real modem (the pytest plugin's
``fixtures/progress.py`` prints them; the virtual-clock runs start no watcher)."""
from __future__ import annotations

__all__ = ["AFTER", "EVERY", "waiting_line"]

AFTER = 5.0         # seconds a command waits before the first progress line
EVERY = 10.0        # seconds between progress lines


def waiting_line(purpose: str, channel, now: float) -> str | None:
    """The progress line for ``channel``'s pending command, or None when nothing has
    waited :data:`AFTER` s. ``now``: the channel clock's time."""
    t = getattr(channel, "_current", None)
    if t is None:
        return None
    r = t.response
    waited = now - r.sent_at
    if waited < AFTER or r.final is not None:
        return None
    fam = channel.family
    limit = (fam.max_response_time(r.match.command, r.match.variant) if r.match is not None
             else fam.timing.default_max_response_time)
    what = "its '>' prompt's data" if r.prompt else "its final result code"
    return (f"atconform: {purpose}: {r.line} waiting for {what}, {waited:.0f} s of at most {limit:g} s "
            f"({max(0.0, limit - waited):.0f} s left)")
