"""Queclink GV500 vehicle tracker: the ``AT@...$`` configuration protocol, seed 000.

Dialect: the session (:mod:`.session`: the query as the sync and settle step, silence as
the answer to bad input, ICS declarations); the emulator (:mod:`.emulator`) with its
backend-server connection (:mod:`.backend`) and configuration (:mod:`.config`); fuzz
vocabulary (:mod:`.fuzz`). The framer is the delimited one, chosen by the spec's
``framing.style: delimited`` (:mod:`atconform.protocol.delimited`); no engine hooks.
"""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(
    model="queclink_gv500",
    session="atconform.families.queclink_gv500.session:Gv500Session",
    emulator="atconform.families.queclink_gv500.emulator:Gv500",
)
