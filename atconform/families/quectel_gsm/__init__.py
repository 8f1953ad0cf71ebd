"""Quectel GSM modules (M95 era): GSM TCPIP Application Note, seed 003.

Spec skeleton only (``specs/quectel_gsm.yaml``): no emulator and no session steps yet; its
suites run with ``--port``. The family's own issue builds the rest here."""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(model="quectel_gsm")
