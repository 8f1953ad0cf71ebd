"""The built-in modem emulator. ``Emulator("bg96").start()`` serves a pty in a thread."""
from atconform.emulator.server import Emulator, EMULATED_MODELS  # noqa: F401
