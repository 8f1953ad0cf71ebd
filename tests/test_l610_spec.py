"""specs/fibocom_l610.yaml against seed 004 (issue 12 step 1): every command of §1.1-1.2 in
every form its syntax table gives, the attribute tables, the three error tables looked up
by table, the cross-parameter rules, the settings that select response shapes, and a
reading with its seed line wherever the seed leaves something open. The seed has no worked
examples, so the response lines here are built from its tables."""
from __future__ import annotations

import re

import pytest

from atconform.casegen import generate
from atconform.protocol.commands import match_args, template_for
from atconform.spec import load_family

FAM = load_family("fibocom_l610")

# command -> forms the seed's syntax table gives (T test, R read, W write)
SEED_FORMS = {
    "+MIPCALL": "TRW", "+MIPOPEN": "TRW", "+MIPCLOSE": "TRW", "+MIPSETS": "TRW", "+MIPDSETS": "TRW",
    "+MIPSEND": "RW", "+MIPPUSH": "TRW", "+MIPFLUSH": "TRW", "+MIPCONF": "TRW", "+MIPKEEPCONF": "TRW",
    "+MPING": "TRW", "+MSDNS": "TRW", "+MSV6DNS": "TRW", "+MIPODM": "TRW", "+MIPDNS": "W",
    "+MIPNTP": "TRW", "+MIPREAD": "RW", "+GTSET": "W",
}
KIND = {"T": "test", "R": "read", "W": "write"}
# attribute tables: command -> (Persistent, Sync Mode, Time of duration s, seed line)
ATTRIBUTES = {
    "+MIPCALL": (False, False, 1, 133), "+MIPOPEN": (False, False, 1, 208), "+MIPCLOSE": (False, False, 1, 297),
    "+MIPSETS": (False, True, 1, 363), "+MIPDSETS": (False, True, 1, 414), "+MIPSEND": (False, True, 1, 459),
    "+MIPPUSH": (False, True, 1, 510), "+MIPFLUSH": (False, True, 1, 567), "+MIPCONF": (False, True, 1, 708),
    "+MIPKEEPCONF": (False, True, 1, 760), "+MPING": (False, False, 1, 821), "+MSDNS": (False, True, 1, 937),
    "+MSV6DNS": (False, True, 1, 989), "+MIPODM": (False, False, 1, 1043), "+MIPDNS": (False, True, 1, 1165),
    "+MIPNTP": (False, False, 1, 1207), "+MIPREAD": (False, True, 1, 1254), "+GTSET": (True, True, 1, 1453),
}


@pytest.mark.parametrize("name", sorted(SEED_FORMS))
def test_every_command_in_every_form_of_its_table(name):
    cmd = FAM.command(name)
    assert {f.kind.value for f in cmd.forms} == {KIND[k] for k in SEED_FORMS[name]}
    assert cmd.source.document == "004_24f336921c6ede6b.txt"
    # each reading cites its seed line
    assert cmd.notes and re.search(r"L[0-9]{2,4}", cmd.notes), f"{name}: notes without seed lines"


def test_hex_mode_variants_and_two_stage_answers():
    send = FAM.command("+MIPSEND").form("write")
    v = {x.name: x for x in send.variants}
    assert set(v) == {"default", "hex-length", "hex-ctrl-z", "hex-timeout"}
    assert (v["hex-length"].data, v["hex-ctrl-z"].data, v["hex-timeout"].data) == ("fixed", "ctrl_z", "timer")
    assert all(v[n].stages == 2 and v[n].data_encoding == "hex" for n in ("hex-length", "hex-ctrl-z", "hex-timeout"))
    assert v["hex-timeout"].data_timer == "SENDTIME" and v["hex-timeout"].attributes.time_of_duration == 12
    assert v["default"].stages == 1
    assert FAM.setting("SENDTIME").default == 12 and FAM.setting("IPRFMT").default == 0


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_attribute_tables(name):
    persistent, sync, time, line = ATTRIBUTES[name]
    a = FAM.command(name).attributes
    assert (a.pin_restricted, a.persistent, a.sync_mode, a.effect_immediately, a.time_of_duration, a.line) == \
        (True, persistent, sync, True, time, line)


def test_sync_mode_no_means_a_result_after_ok():
    """"Sync Mode: No": the result follows OK, bound to the command (its follow lines),
    except MPING whose lines go on for <count> requests (URCs) and a listening MIPOPEN."""
    for c in FAM.commands:
        if c.attributes is None or c.attributes.sync_mode is not False:
            continue
        follows = [v for v in c.form("write").variants if v.follow]
        assert follows or c.name == "+MPING", c.name
    assert FAM.command("+MIPCALL").form("write").variants[1].follow[0].max_time == 30    # L124
    assert FAM.command("+MIPOPEN").form("write").variants[1].follow[0].max_time == 60    # L179


def test_what_survives():
    assert FAM.command("+GTSET").attributes.persistent
    for name in ("+MSDNS", "+MSV6DNS", "+MIPCONF"):          # L906, L958, L665
        a = FAM.command(name).attributes
        assert a.survives_pdp_deactivation and not a.persistent
    assert "Conflict" in FAM.command("+MIPKEEPCONF").attributes.notes   # L741 vs L760


def test_three_error_tables_looked_up_by_table():
    tables = {t.name: t for t in FAM.error_tables}
    assert len(tables["CME error codes"].codes) == 112 and len(tables["CMS error codes"].codes) == 106
    assert [c.code for c in tables["TCP/IP error codes"].codes] == list(range(2000, 2034))
    assert FAM.error_entry("+CME ERROR: ", 1).text == "no connection to phone"
    assert FAM.error_entry("+CMS ERROR: ", 1).text == "Unassigned (unallocated) number"
    assert FAM.error_entry("+CME ERROR: ", 2024).text == "TCPIP socket not opened"
    assert FAM.error_entry("+CMS ERROR: ", 2024) is None


@pytest.mark.parametrize("name, args, ok", [
    ("+MPING", "0", True), ("+MPING", '0,"10.0.0.1"', False),          # L802
    ("+MPING", "1", False), ("+MPING", '1,"10.0.0.1"', True),           # L827
    ("+MIPKEEPCONF", "1", False), ("+MIPKEEPCONF", "1,10,10,3", True), ("+MIPKEEPCONF", "0", True),   # L768
    ("+MIPCALL", "1,1", True), ("+MIPCALL", "2,1", False), ("+MIPCALL", '2,"apn"', True),             # L141
    ("+MIPOPEN", '1,,"10.0.0.1",0,0', True),                                                           # L244
    ("+MSDNS", "7", True), ("+MSDNS", "8", False),                                                     # L945
])
def test_cross_parameter_rules(name, args, ok):
    cmd = FAM.command(name)
    assert match_args(cmd, cmd.form("write"), args).ok is ok


def test_generator_cases_from_rules_and_states():
    ps = {p.id: p for p in generate(FAM)}
    for pid in ("MPING/WRITE/rule/abort-takes-nothing-after", "MPING/WRITE/rule/launch-needs-destination",
                "MIPKEEPCONF/WRITE/rule/mode-1-needs-all", "MIPCALL/WRITE/cid/rule/cid-only-for-ipv4"):
        assert ps["FIBOCOM_L610/" + pid].kind == "write-error", pid
    for pid in ("MIPSETS/WRITE/rule/refused-while-buffered", "MIPCONF/WRITE/rule/needs-link",
                "MPING/WRITE/rule/one-at-a-time", "MPING/WRITE/rule/abort-needs-a-ping", "MIPODM/WRITE/rule/one-odm-socket"):
        assert ps["FIBOCOM_L610/" + pid].kind == "write-refused", pid
    assert ps["FIBOCOM_L610/MIPSEND/WRITE/hex-timeout/socket_id/min"].kind == "write-ok"


@pytest.mark.parametrize("urc, text, settings", [
    ("miprtcp", "+MIPRTCP: 1,0,48656C6C6F", {"IPRFMT": 0}),
    ("miprudp", "+MIPRUDP: 127.0.0.1,7,1,0,48656C6C6F", {"IPRFMT": 0}),
    ("miprtcp-raw", "+MIPRTCP: 1,5,", {"IPRFMT": 2}),
    ("miprudp-raw", "+MIPRUDP: 127.0.0.1,7,1,5,", {"IPRFMT": 2}),
    ("mpingstat", "+MPINGSTAT: 0,127.0.0.1,4,4,0", {}),
    ("mpingstat", "+MPINGSTAT: 1", {}),
    ("mping", "+MPING: 127.0.0.1,0,0,1", {}),
    ("mipdata", "+MIPDATA: 2,4", {}),
    ("mipxoff", "+MIPXOFF: 1", {}), ("mipxon", "+MIPXON: 1", {}),
    ("mipopen-listen", "+MIPOPEN: 1,1,127.0.0.1,40000", {}),
])
def test_urcs_built_from_the_tables(urc, text, settings):
    u = FAM.urc(urc)
    assert u.settings == settings
    assert template_for(u, u.template).parse(text).ok


def test_persistence_purposes_from_the_attribute_tables():
    """What survives a power cycle (Persistent) or the link going down (the prose), as
    purposes: set values that differ from the defaults, the event, read them back."""
    ps = {p.id: p for p in generate(FAM) if p.kind == "persistence"}
    assert {"FIBOCOM_L610/MSDNS/PERSIST/power-cycle", "FIBOCOM_L610/MSDNS/PERSIST/pdp-deactivation",
            "FIBOCOM_L610/MIPCONF/PERSIST/pdp-deactivation", "FIBOCOM_L610/MIPKEEPCONF/PERSIST/power-cycle"} <= set(ps)
    conf = ps["FIBOCOM_L610/MIPCONF/PERSIST/pdp-deactivation"]
    cmd = FAM.command("+MIPCONF")
    assert all(conf.values[f] != cmd.param(f).default for f in ("retr_num", "min_to", "max_to", "max_close_delay"))
