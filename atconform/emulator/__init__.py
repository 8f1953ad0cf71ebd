"""The built-in modem emulator. ``Emulator("bg96").start()`` serves a pty in a thread.
Each family's DCE lives in its plug-in package (``atconform.families.<model>``)."""
from atconform.emulator.server import Emulator  # noqa: F401


def __getattr__(name: str):
    if name == "EMULATED_MODELS":      # models with a built-in emulator, from the registry
        from atconform import families
        return families.emulated()
    raise AttributeError(name)
