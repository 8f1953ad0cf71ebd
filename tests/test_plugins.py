"""Families as plug-ins (issue 9 §1): the registry, the boundary between generic layers
and family packages, typed checker problems, fault kinds per family."""
import ast
from pathlib import Path

import pytest

from atconform import families
from atconform.emulator.faults import FaultPlan, fault_kinds
from atconform.protocol.engine import AtEngine, Problem, Transaction, check_response
from atconform.spec import load_family
from atconform.verdicts import Deviation, Inconclusive, verdict_of

REPO = Path(__file__).resolve().parents[1]
GENERIC = ["protocol", "casegen", "transport", "report", "emulator", "policy", "spec"]
GENERIC_MODULES = ["session.py", "verdicts.py", "power.py", "clock.py", "cli.py", "pytest_plugin.py", "ixit.py"]


def test_registry_finds_every_family_by_name():
    assert families.models() == ("bg96", "fibocom_l610", "queclink_gv500", "quectel_gsm")
    assert set(families.emulated()) >= {"bg96", "queclink_gv500"}
    for m in families.models():
        plugin = families.get(m)
        assert plugin.model == m
        assert plugin.spec().model == m           # each family has its spec
        plugin.session_class()                    # and its references resolve
        plugin.make_engine_hooks(plugin.spec())
    with pytest.raises(families.UnknownFamily, match="known: bg96"):
        families.get("nokia_3310")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def test_generic_layers_never_import_a_family_package():
    """Generic code reaches a family only through the registry and atconform.families.base.
    (Planted: `from atconform.families.bg96.session import qiopen_for` in casegen fails this.)"""
    files = [p for d in GENERIC for p in (REPO / "atconform" / d).rglob("*.py")]
    files += [REPO / "atconform" / f for f in GENERIC_MODULES] + list((REPO / "fixtures").glob("*.py"))
    bad = []
    for f in files:
        for mod in _imports(f):
            if mod.startswith("atconform.families.") and mod != "atconform.families.base":
                bad.append(f"{f.relative_to(REPO)} imports {mod}")
    assert not bad, bad


def test_checker_problems_are_typed():
    fam = load_family("bg96")
    eng = AtEngine(fam)
    _, m = eng.command("AT+QIACT?")
    t = Transaction("AT+QIACT?", m, 0.0)
    for ev in eng.feed(b'\r\n+QIACT: 1,1,1,"10.0.0.1"\r\n\r\n+QIACT: 1,1,1,"10.0.0.1",9\r\n\r\nNO CARRIER\r\n'):
        t.add(ev, 1.0)
    problems = check_response(fam, t.response)
    assert problems and all(isinstance(p, Problem) for p in problems)
    clauses = {p.clause for p in problems}
    assert "final-result" in clauses
    assert all(p.line == "AT+QIACT?" for p in problems)
    assert "NO CARRIER" in "; ".join(problems)    # still words


def test_fault_kinds_belong_to_their_family():
    assert {"no_response", "dead", "reboot"} <= set(fault_kinds("queclink_gv500"))
    assert "qiact_hang" in fault_kinds("bg96") and "qiact_hang" not in fault_kinds("queclink_gv500")
    plan = FaultPlan.model_validate({"faults": [{"kind": "qiact_hang"}]})
    plan.check(load_family("bg96"))
    with pytest.raises(ValueError, match="not a fault kind of queclink_gv500"):
        plan.check(load_family("queclink_gv500"))
    with pytest.raises(ValueError, match="unknown kind 'nope'"):
        FaultPlan.model_validate({"faults": [{"kind": "nope"}]})
    # a plan round-trips with each fault's own fields
    p2 = FaultPlan.model_validate({"seed": 3, "faults": [{"kind": "sim_not_ready", "seconds": 5}]})
    assert FaultPlan.model_validate(p2.model_dump()) == p2


def test_verdict_exceptions_are_plain_and_mapped():
    assert not issubclass(Inconclusive, BaseException) or issubclass(Inconclusive, Exception)
    assert not issubclass(Deviation, AssertionError)
    assert verdict_of(Deviation("x"), "call") == "fail"
    assert verdict_of(Deviation("x"), "setup") == "error"
    assert verdict_of(Inconclusive("no network"), "setup") == "inconclusive"
    assert verdict_of(RuntimeError("bug"), "call") == "error"


def test_framer_modes_follow_the_transition_table():
    from atconform.protocol.framer import FramerStateError, Mode
    fam = load_family("bg96")
    eng = AtEngine(fam)
    with pytest.raises(FramerStateError, match="escape_written"):
        eng.framer.escape_written()             # +++ outside data mode: a caller's bug
    eng.command('AT+QIOPEN=1,0,"TCP","127.0.0.1",7,0,2')
    eng.feed(b"\r\nCONNECT\r\n")
    assert eng.framer.mode is Mode.DATA and eng.framer.data_mode
    eng.framer.escape_written()
    assert eng.framer.mode is Mode.ESCAPING
    evs = eng.feed(b"abc\r\nOK\r\n")
    assert evs[-1].kind == "ok" and eng.framer.mode is Mode.COMMAND


def test_urc_prefixes_of_the_spec_make_unknown_urcs_not_information_text():
    fam = load_family("bg96")
    spec = fam.model_copy(update={"framing": fam.framing.model_copy(update={"urc_prefixes": ["STATE:"]})})
    # AT has no information text in the spec: without the prefix the line is free text
    for family, kind in ((spec, "UrcLine"), (fam, "FreeText")):
        eng = AtEngine(family)
        eng.command("AT")
        evs = eng.feed(b"\r\nSTATE: IP INITIAL\r\n\r\nOK\r\n")
        assert type(evs[0]).__name__ == kind
