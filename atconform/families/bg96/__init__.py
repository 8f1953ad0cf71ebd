"""Quectel BG96 (LTE Cat-M1/NB-IoT): TCP/IP AT commands, seed 002 (and 001).

Dialect: engine hooks (:mod:`.engine`), session steps and the socket service
(:mod:`.session`); emulator (:mod:`.emulator`); fault kinds (:mod:`.faults`); the
Figure 1 host recovery policy (:mod:`.policy`)."""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(
    model="bg96",
    session="atconform.families.bg96.session:Bg96Session",
    engine_hooks="atconform.families.bg96.engine:Bg96EngineHooks",
    emulator="atconform.families.bg96.emulator:Bg96",
    fault_kinds=tuple(f"atconform.families.bg96.faults:{k}" for k in (
        "QiactHang", "QiopenUrc", "SimNotReady", "RegistrationSearching", "NoAck", "Pdpdeact")),
    lab_power_cycle="atconform.families.bg96.policy:lab_power_cycle",
)
