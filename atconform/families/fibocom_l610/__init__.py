"""Fibocom L610 (LTE Cat-1): TCP & UDP AT commands, seed 004.

Spec skeleton only (``specs/fibocom_l610.yaml``): no emulator and no session steps yet; its
suites run with ``--port``. The family's own issue builds the rest here."""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(model="fibocom_l610")
