"""Fibocom L610 (LTE Cat-1): TCP & UDP AT commands (the MIP set), seed 004.

Dialect: the session (:mod:`.session`: precondition steps, the socket service over
AT+MIPOPEN/MIPSEND/MIPPUSH/MIPCLOSE, pseudo-command mode); the emulator (:mod:`.emulator`).
The framing (two-stage HEX-mode answers, lines after OK, data forms by AT+GTSET="IPRFMT")
is read from the spec by the generic framer; no engine hooks.
"""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(
    model="fibocom_l610",
    session="atconform.families.fibocom_l610.session:L610Session",
    emulator="atconform.families.fibocom_l610.emulator:L610",
)
