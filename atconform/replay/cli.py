"""``atconform emulate --replay DIR [--model MODEL]``: serve a recording on a pty, on real time.

The first stdout line is ``PTY <path>``, as for the emulator; the path is a symlink to the
pty in use, since a divergence hangs the pty up and a new one serves the next test (the
way ``/dev/serial/by-id/...`` follows a modem that re-enumerates). Each divergence is one
line on stderr (expected and received bytes, the test that comes next). Serves until
SIGINT or SIGTERM. Bad input (no recording, an unknown format version, an option that
does not go with a replay) is one line on stderr and exit status 2.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from atconform.errors import BadInput
from atconform.replay.recording import load_dir


def emulate(directory: str, model: str | None, *, refused: list[str]) -> int:
    """Serve the recording of ``model`` (or the only one) in ``directory``; ``refused``:
    the other emulate options given, which a replay cannot honour. Returns the exit status."""
    from atconform.replay.server import ReplayServer

    def fail(msg: str) -> int:
        print(f"atconform emulate: {msg}", file=sys.stderr)
        return 2

    if refused:
        return fail(f"--replay serves a recording; it cannot be used with {', '.join(refused)}")
    try:
        recordings = load_dir(directory, model)
    except BadInput as e:
        return fail(f"bad --replay recording {e}")
    if len(recordings) > 1:
        return fail(f"{directory} holds recordings of {', '.join(sorted(recordings))}: name one with --model")
    rec = next(iter(recordings.values()))
    tmp = tempfile.mkdtemp(prefix="atconform-replay-")
    link = os.path.join(tmp, "tty")

    def told(div) -> None:
        print(f"atconform emulate: {div}; hung up, going on at {server.player.segment}", file=sys.stderr, flush=True)

    try:
        server = ReplayServer(rec, link=link, on_divergence=told)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return fail(f"cannot open a pty: {e.strerror or e}")

    def stop(signum, frame):
        server.loop._stopping = True

    signal.signal(signal.SIGTERM, stop)     # before the first line: a caller may stop us at once
    signal.signal(signal.SIGINT, stop)
    ixit = Path(directory) / "ixit.yaml"
    print(f"atconform emulate: replaying {len(rec.tests)} recorded test(s) of {rec.model} from {rec.path}; "
          f"run the same tests with --port {link} --model {rec.model}"
          + (f" --ixit {ixit}" if ixit.exists() else ""), file=sys.stderr, flush=True)
    print(f"PTY {link}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
