"""The Quectel GSM spec (specs/quectel_gsm.yaml, seed 003) and the model extensions it
needs: module settings that select variants, lines that follow the final OK, index-prefixed
result codes, state machines as data; every command of the note, its readings and the
known conflicts recorded with the reading chosen."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from atconform.casegen import generate
from atconform.protocol.commands import SettingsTracker, match_line
from atconform.spec import Family, load_family, specs_dir
from atconform.spec.template import compile_for

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "003_fb4b48c054b40738.txt"
GSM = "quectel_gsm"
# issue 11's list: every command of the note, plus ATO, +++, AT+CGATT
NOTE_COMMANDS = ["+QIFGCNT", "+QICSGP", "+QIMUX", "+QIMODE", "+QIDNSIP", "+QITCFG", "+QIREGAPP", "+QIACT",
                 "+QILOCIP", "+QIOPEN", "+QISEND", "+QIAUTOS", "+QISACK", "+QICLOSE", "+QIDEACT", "+QISERVER",
                 "+QILPORT", "+QISRVC", "+QISHOWRA", "+QISHOWLA", "+QIHEAD", "+QISHOWPT", "+QINDI", "+QIRD",
                 "+QISTAT", "+QISTATE", "+QISSTAT", "+QIDNSCFG", "+QIDNSGIP", "+QSCLK", "O", "+++", "+CGATT"]


@pytest.fixture(scope="module")
def gsm() -> Family:
    return load_family(GSM)


def _data() -> dict:
    return yaml.safe_load((specs_dir() / f"{GSM}.yaml").read_text())


def test_every_command_of_the_note_is_in_the_spec(gsm):
    names = {c.name for c in gsm.commands}
    assert set(NOTE_COMMANDS) <= names, set(NOTE_COMMANDS) - names
    for name in NOTE_COMMANDS:
        c = gsm.command(name)
        if c.source.document.startswith("003"):
            assert c.notes and re.search(r"L\d+", c.notes), f"{name}: no reading with its seed line"


def test_every_cited_seed_line_exists(gsm):
    n_lines = len(SEED.read_text(encoding="utf-8").splitlines()) if SEED.exists() else 784
    text = (specs_dir() / f"{GSM}.yaml").read_text()
    cited = [int(x) for x in re.findall(r"\bL(\d+)\b", text)]
    assert cited and max(cited) <= n_lines


def test_known_conflicts_are_recorded_with_the_reading_chosen(gsm):
    notes = gsm.notes
    assert "CLOSE OK" in notes and "0, CLOSE OK" in notes and "Chosen: §5.4" in notes
    assert "n+m<=5" in notes and "Chosen: both hold" in notes
    assert "QISHOWPT" in notes and "Chosen: L533" in notes
    # each reading shows in the model too
    close = gsm.command("+QICLOSE").form("write").variants[0]
    assert close.result_index == "index" and close.settings == {"mux": 1}
    assert gsm.command("+QISERVER").param("max").range.max == 5
    assert gsm.command("+QIOPEN").param("index").range.max == 5
    assert gsm.urc("ipd-protocol").settings["mux"] == 0


def test_all_templates_compile(gsm):
    for c in gsm.commands:
        for f in c.forms:
            for v in f.variants:
                compile_for(v.syntax, c.parameters)
                for r in v.responses:
                    compile_for(r.template, c.parameters)
                for fl in v.follow:
                    for a in fl.alternatives:
                        compile_for(a.template, c.parameters)
    for u in gsm.urcs:
        compile_for(u.template, u.parameters)


# -- settings select variants --------------------------------------------------------------
def test_qisend_n_is_a_length_with_qimux_0_and_an_index_with_qimux_1(gsm):
    single = {"mux": 0}
    multi = {"mux": 1}
    assert match_line(gsm, "+QISEND=5", single).variant.name == "length"
    assert match_line(gsm, "+QISEND=5", multi).variant.name == "index"
    assert not match_line(gsm, "+QISEND=6", multi).ok             # index 0-5
    assert match_line(gsm, "+QISEND=6", single).ok                # a length
    assert not match_line(gsm, "+QISEND=0", single).ok            # length 1-1460
    assert match_line(gsm, "+QISEND=0,30", multi).variant.name == "index-length"
    assert not match_line(gsm, "+QISEND=0,30", single).ok
    assert match_line(gsm, '+QIOPEN="TCP","1.2.3.4",7', {"mux": 0, "mode": 1}).variant.name == "transparent"
    # unknown settings rule nothing out
    assert match_line(gsm, "+QISEND=6").ok


def test_settings_tracker_keeps_mux_per_foreground_context(gsm):
    t = SettingsTracker(gsm)
    assert t.current()["mux"] == 0 and t.current()["fgcnt"] == 0
    t.apply(t.changes(match_line(gsm, "+QIMUX=1", t.current())))
    assert t.get("mux") == 1
    t.apply(t.changes(match_line(gsm, "+QIFGCNT=1", t.current())))
    assert t.get("mux") == 0                                       # context 1's own copy
    t.apply(t.changes(match_line(gsm, "+QIFGCNT=0", t.current())))
    assert t.get("mux") == 1
    assert t.changes(match_line(gsm, "+QIMUX=2", t.current())) == {}   # no value out of range
    t.reset()
    assert t.get("mux") == 0


def test_casegen_proves_bad_input_under_the_variants_settings(gsm):
    ids = {p.id: p for p in generate(gsm)}
    above = ids["QUECTEL_GSM/QISEND/WRITE/index/index/above-max"]      # 6 is a length with QIMUX=0
    assert above.args == "6" and above.preconditions == ("setting:mux=1",)
    assert ids["QUECTEL_GSM/QISEND/WRITE/length/length/below-min"].args == "0"
    ok = ids["QUECTEL_GSM/QISEND/WRITE/index-length/length/max"]
    assert ok.preconditions == ("setting:mux=1", "connected:{index}") and "setting:mux=0" in ok.cleanup
    assert ids["QUECTEL_GSM/QIACT/EXECUTE/response"].preconditions == ("stack:IP START",)


# -- follow lines, index prefix, no final -----------------------------------------------------
def test_lines_after_ok_are_follow_lines_with_alternatives_and_deadlines(gsm):
    qiopen = {v.name: v for v in gsm.command("+QIOPEN").form("write").variants}
    assert [a.template for a in qiopen["single"].follow[0].alternatives] == ["CONNECT OK", "CONNECT FAIL"]
    assert qiopen["transparent"].follow[0].data_mode_entry == "CONNECT"
    assert qiopen["mux"].follow[0].alternatives[0].echoes == ["index"]
    assert qiopen["single"].follow[0].max_time == gsm.timing.default_max_response_time == 60
    state = gsm.command("+QISTATE").form("execute").variants[0]
    assert [fl.count for fl in state.follow] == [None, 6]
    gip = gsm.command("+QIDNSGIP").form("write").variants[0]
    assert gip.follow[0].alternatives[0].repeat
    loc = gsm.command("+QILOCIP").form("execute").variants[0]
    assert loc.final == [] and loc.responses[0].template == "<ip>"
    assert gsm.command("+QIDEACT").max_response_time == 150


def test_glued_and_adjacent_header_fields_parse(gsm):
    ipd = compile_for(gsm.urc("ipd-protocol").template, gsm.urc("ipd-protocol").parameters)
    assert ipd.parse("IPD30TCP:").values == {"length": 30, "protocol": "TCP"}
    assert ipd.parse("IPD30XYZ:") is None
    qird = gsm.command("+QIRD")
    t = compile_for(qird.form("write").variants[0].responses[0].template, qird.parameters)
    assert t.parse("+QIRD:116.228.146.250:7070,TCP,36").values == {
        "remote_ip": "116.228.146.250", "remote_port": 7070, "protocol": "TCP", "length": 36}  # L544
    sack = gsm.command("+QISACK")
    t = compile_for(sack.form("execute").variants[0].responses[0].template, sack.parameters)
    assert t.parse("+QISACK: 30, 20, 10").values == {"sent": 30, "acked": 20, "nacked": 10}  # L170
    qistate = gsm.command("+QISTATE")
    t = compile_for(qistate.form("execute").variants[0].follow[1].alternatives[0].template, qistate.parameters)
    assert t.parse('+QISTATE: 0,"","",,"INITIAL"').ok                                        # L623


# -- state machines as data ---------------------------------------------------------------
def test_figure_3_single_connection_path(gsm):
    m = gsm.state_machine("single")
    s = m.initial
    for event, want in [("+QIREGAPP", "IP START"), ("+QIACT", "IP CONFIG"), ("activating", "IP IND"),
                        ("activated", "IP GPRSACT"), ("+QILOCIP", "IP STATUS"), ("open tcp", "TCP CONNECTING"),
                        ("connected", "CONNECT OK"), ("+QILOCIP", "CONNECT OK"), ("+QICLOSE", "IP CLOSE"),
                        ("+CGATT=0", "PDP DEACT"), ("+QIDEACT", "IP INITIAL")]:
        s = m.next(s, event)
        assert s == want, event
    assert m.next("IP INITIAL", "+QIACT") is None
    assert not m.allowed("+QIACT", "IP INITIAL") and m.allowed("+QIACT", "IP START")
    assert m.allowed("+QIOPEN", "IP INITIAL")          # auto QIREGAPP + QIACT (L145)
    assert m.allowed("+QISTAT", "PDP DEACT")           # not restricted
    # every state the QISTAT line may print is a state of a figure
    printed = set(gsm.command("+QISTAT").param("state").supported_values())
    drawn = {st.name for mm in gsm.state_machines for st in mm.states}
    assert printed == drawn


def test_figure_4_multiple_connections_path(gsm):
    m = gsm.state_machine("multiple")
    assert m.settings == {"mux": 1}
    assert m.next("IP STATUS", "open tcp") == "IP PROCESSING"
    assert m.next("IP PROCESSING", "last closed") == "IP STATUS"
    assert m.next("IP PROCESSING", "+CGATT=0") == "PDP DEACT"


def test_chapter_6_numbers_quote_the_note(gsm):
    def plain(t: str) -> str:          # quotes and spacing differ between the OCR and YAML
        return " ".join(re.sub(r"[‘’“”'\"]", "", t).split())

    text = plain(SEED.read_text(encoding="utf-8")) if SEED.exists() else None
    want = {"keepalive_idle": 480, "probe_data": 10, "probe_ack_wait": 30, "detect_first_wait": 5,
            "detect_interval": 10, "detect_tries": 12, "qideact_max": 150, "qideact_host_timeout": 60,
            "escape_guard": 0.5, "escape_max_gap": 0.02}
    for name, value in want.items():
        r = gsm.rule(name)
        assert r.value == value, name
        if text is not None:
            head = plain(r.quote.split(" ... ")[0])[:40]
            assert head in text, (name, head)
    assert gsm.framing.escape_guard_time == gsm.rule("escape_guard").value
    assert gsm.framing.escape_max_gap == gsm.rule("escape_max_gap").value


# -- the model refuses what does not resolve ---------------------------------------------
def test_unknown_setting_in_a_variant_fails_the_load():
    data = _data()
    qisend = next(c for c in data["commands"] if c["name"] == "+QISEND")
    qisend["forms"][1]["variants"][0]["settings"] = {"muxx": 1}
    with pytest.raises(ValidationError, match="unknown settings"):
        Family.model_validate(data)


def test_a_transition_to_an_undeclared_state_fails_the_load():
    data = _data()
    data["state_machines"][0]["transitions"].append({"source": ["IP START"], "event": "x", "target": "IP NOWHERE"})
    with pytest.raises(ValidationError, match="unknown states"):
        Family.model_validate(data)


def test_a_follow_data_mode_entry_must_be_an_alternative():
    data = _data()
    qiopen = next(c for c in data["commands"] if c["name"] == "+QIOPEN")
    qiopen["forms"][0]["variants"][1]["follow"][0]["data_mode_entry"] = "CONNECT NOW"
    with pytest.raises(ValidationError, match="not one of the alternatives"):
        Family.model_validate(data)


def test_other_specs_load_unchanged():
    for model in ("bg96", "queclink_gv500"):
        fam = load_family(model)
        assert fam.settings == [] and fam.state_machines == []
        assert all(not v.settings and not v.follow for c in fam.commands for f in c.forms for v in f.variants)
