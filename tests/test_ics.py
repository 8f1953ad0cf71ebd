"""ICS (atconform/ics.py, fixtures/ics.py, suites/test_static_review.py).

Pure: the generated default ICS of every family loads back and leaves every purpose
applicable; a feature declared absent makes exactly its purposes not applicable, with the
ICS line as the reason; a command left out is not stated; bad files are one line.
End to end (a pytest run against the built-in emulators): the same sets as verdicts, one
static-review failure for a mismatched ``=?`` range, and for a planted range defect.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import suite_run
from atconform import families
from atconform.casegen import generate
from atconform.errors import BadInput
from atconform.ics import APPLICABLE, NOT_APPLICABLE, NOT_STATED, default_ics_text, load_ics
from atconform.spec import load_family

REPO = Path(__file__).resolve().parents[1]
MODELS = [m for m in families.models()]

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def write_ics(tmp_path: Path, model: str, edit=None, name: str | None = None) -> Path:
    text = default_ics_text(load_family(model))
    if edit is not None:
        text = edit(text)
    path = tmp_path / (name or f"{model}.ics.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def applicability(ics, fam, p):
    return ics.applicability(fam, command=p.command, form=p.form, param=p.param, values=p.values)


@pytest.mark.parametrize("model", MODELS)
def test_generated_ics_is_full_and_every_purpose_applies(model, tmp_path):
    fam = load_family(model)
    ics = load_ics(write_ics(tmp_path, model), fam)
    assert set(ics.commands) == {c.name for c in fam.commands}
    assert ics.not_stated(fam) == [] and ics.absent(fam) == []
    assert ics.declarations == {d.name: d.value for d in fam.ics}
    for p in generate(fam):
        assert applicability(ics, fam, p).status == APPLICABLE, p.id


def test_generated_ics_has_comments_and_cli_writes_it(tmp_path):
    out = tmp_path / "bg96.yaml"
    r = subprocess.run([sys.executable, "-m", "atconform", "ics", "--model", "bg96", "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "# AT+QIOPEN: Open a socket service (§2.1.4)" in text
    assert "access_mode: {values: [0, 1, 2]}" in text and "Transparent access mode" in text
    r = subprocess.run([sys.executable, "-m", "atconform", "ics", "--model", "bg96", "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "exists" in r.stderr


def _absent(cmd: str):
    return lambda t: re.sub(rf"(\n  {re.escape(cmd)}:\n    supported: )true", r"\1false", t)


def test_command_declared_absent_is_not_applicable_for_exactly_its_purposes(tmp_path):
    fam = load_family("bg96")
    path = write_ics(tmp_path, "bg96", _absent("+QNWINFO"))
    ics = load_ics(path, fam)
    na = {p.id: applicability(ics, fam, p) for p in generate(fam)}
    got = {k for k, a in na.items() if a.status == NOT_APPLICABLE}
    assert got == {p.id for p in generate(fam) if p.command == "+QNWINFO"} and got
    reason = na["BG96/QNWINFO/EXECUTE/response"].reason
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if s.strip() == "+QNWINFO:") + 1
    assert reason == f"ICS {path}:{line}: commands.+QNWINFO.supported: false"
    assert ics.absent(fam) == [{"feature": "+QNWINFO", "where": f"{path}:{line}: commands.+QNWINFO.supported",
                                "mandatory": False}]


def test_value_form_and_optional_parameter_statements(tmp_path):
    fam = load_family("bg96")
    edit = lambda t: (t.replace("access_mode: {values: [0, 1, 2]}", "access_mode: {values: [0, 1]}", 1)   # noqa: E731
                      .replace("  +QISTATE:\n    supported: true\n    forms: {test: true, read: true, execute: true, write: true}",
                               "  +QISTATE:\n    supported: true\n    forms: {test: true, read: false, execute: true}"))
    ics = load_ics(write_ics(tmp_path, "bg96", edit), fam)
    purposes = generate(fam)
    status = {p.id: applicability(ics, fam, p).status for p in purposes}
    qiopen_2 = {p.id for p in purposes if p.command == "+QIOPEN" and p.values.get("access_mode") == 2}
    assert qiopen_2 and all(status[i] == NOT_APPLICABLE for i in qiopen_2)
    assert {i for i, s in status.items() if s == NOT_APPLICABLE} == qiopen_2 | {
        p.id for p in purposes if p.command == "+QISTATE" and p.form == "read"}
    assert {i for i, s in status.items() if s == NOT_STATED} == {
        p.id for p in purposes if p.command == "+QISTATE" and p.form == "write"}
    # a scenario naming a feature in its marker (requires=...)
    assert ics.applicability(fam, command="+QIOPEN", form="scenario",
                             requires=["+QIOPEN.access_mode=2"]).status == NOT_APPLICABLE
    assert ics.applicability(fam, command="+QIOPEN", form="scenario",
                             requires=["+QIOPEN.access_mode=1"]).status == APPLICABLE


def test_command_left_out_is_not_stated(tmp_path):
    fam = load_family("bg96")
    edit = lambda t: re.sub(r"\n  # AT\+QPING:.*?\n  \+QPING:\n(    .*\n|      .*\n)*", "\n", t)   # noqa: E731
    ics = load_ics(write_ics(tmp_path, "bg96", edit), fam)
    assert "+QPING" not in ics.commands and ics.not_stated(fam) == ["+QPING"]
    a = ics.applicability(fam, command="AT+QPING", form="write")
    assert a.status == NOT_STATED and "ICS incomplete" in a.reason and "commands.+QPING" in a.reason


@pytest.mark.parametrize("edit, field", [
    (lambda t: t + "colour: blue\n", "colour: unknown key"),
    (lambda t: t.replace("  +QPING:\n    supported: true", "  +QPING:\n    supported: true\n    speed: 3"),
     "commands.+QPING.speed: unknown key"),
    (lambda t: t.replace("  +QPING:\n", "  +QPONG:\n"), "commands.+QPONG: no such command"),
    (lambda t: t.replace("access_mode: {values: [0, 1, 2]}", "access_mode: {values: [0, 7]}", 1),
     "commands.+QIOPEN.parameters.access_mode.values: 7 is outside"),
    (lambda t: t.replace("connectID: {range: {min: 0, max: 11}}", "connectID: {range: {min: 0, max: 12}}", 1),
     "commands.+QIOPEN.parameters.connectID.range: outside the spec's 0-11"),
    (lambda t: t.replace("forms: {test: true, write: true}", "forms: {test: true, read: true}", 1),
     "has no read form in the spec"),
    (lambda t: t.replace("declarations: {}", "declarations: {dual_stack: true}"), "declarations.dual_stack"),
    (lambda t: t.replace("model: bg96", "model: bg95"), "model:"),
])
def test_bad_ics_is_one_line(edit, field, tmp_path):
    with pytest.raises(BadInput) as e:
        load_ics(write_ics(tmp_path, "bg96", edit), load_family("bg96"))
    assert field in str(e.value) and "\n" not in str(e.value)


def test_gv500_declaration_choice_is_checked(tmp_path):
    with pytest.raises(BadInput, match="declarations.bad_input_reply: not one of"):
        load_ics(write_ics(tmp_path, "queclink_gv500", lambda t: t.replace('bad_input_reply: "silent"',
                                                                           'bad_input_reply: "shout"')),
                 load_family("queclink_gv500"))


# -- end to end ----------------------------------------------------------------------------

def run_suite(tmp_path: Path, *args: str):
    return suite_run.run_suite(tmp_path / "reports", *args)


def _gv500_mode_0_only(t: str) -> str:
    return t.replace("mode: {values: [0, 1]}", "mode: {values: [0]}")


def test_run_bg96_feature_absent_and_one_range_mismatch(tmp_path):
    """+QNWINFO declared absent: exactly its purposes not applicable; access_mode declared
    0-1 while the emulator reports 0-2: one static-review failure (and the purposes that
    open transparent sockets not applicable)."""
    fam = load_family("bg96")
    edit = lambda t: _absent("+QNWINFO")(t).replace("access_mode: {values: [0, 1, 2]}",   # noqa: E731
                                                     "access_mode: {values: [0, 1]}", 1)
    path = write_ics(tmp_path, "bg96", edit)
    proc, verdicts, report = run_suite(tmp_path, "--ics", str(path), "suites/test_static_review.py",
                                       "suites/bg96/test_generated.py", "suites/bg96/test_scenarios.py")
    assert proc.returncode == 1, proc.stdout[-2000:]
    na = {k for k, v in verdicts.items() if v[0] == "not applicable"}
    purposes = generate(fam)
    want = {p.id for p in purposes if p.command == "+QNWINFO"}
    want |= {p.id for p in purposes if p.command == "+QIOPEN" and p.values.get("access_mode") == 2}
    want |= {f"BG96/SCENARIO/{s}" for s in ("3.3/tcp-client-transparent", "1.2/ato-reenters",
                                            "2.1.15/transpktsize-transwaittm", "1.2/no-carrier-peer-close")}
    assert na == want
    assert all("ICS " in verdicts[k][1] and str(path) in verdicts[k][1] for k in na)
    fails = {k: v for k, v in verdicts.items() if v[0] == "fail"}
    assert list(fails) == ["BG96/ICS/QIOPEN/TEST/access_mode"], fails
    assert "reported as (0-2)" in fails["BG96/ICS/QIOPEN/TEST/access_mode"][1]
    review = [k for k in verdicts if "/ICS/" in k]
    assert len(review) > 30 and all(verdicts[k][0] == "pass" for k in review if k not in fails)
    # the review ran before the dynamic tests
    lines = [json.loads(x) for x in (tmp_path / "reports/results.jsonl").read_text().splitlines()]
    order = [r["purpose"] for r in lines if r["type"] == "result"]
    assert all("/ICS/" in k for k in order[: len(review)])
    assert any(r["type"] == "ics" and r["model"] == "bg96" for r in lines)


def test_run_gv500_feature_absent_identity_mismatch_and_mandatory(tmp_path):
    fam = load_family("queclink_gv500")
    edit = lambda t: _gv500_mode_0_only(t).replace("identity: {}", 'identity: {"unit id": "999999999999999"}')  # noqa: E731
    path = write_ics(tmp_path, "queclink_gv500", edit)
    proc, verdicts, _ = run_suite(tmp_path, "--ics", str(path), "suites/test_static_review.py",
                                  "suites/queclink_gv500/test_generated.py")
    na = {k for k, v in verdicts.items() if v[0] == "not applicable"}
    want = {p.id for p in generate(fam) if p.values.get("mode") == 1}
    assert na == want and want
    fails = {k for k, v in verdicts.items() if v[0] == "fail"}
    assert fails == {"QUECLINK_GV500/ICS/identity/unit id"}, proc.stdout[-2000:]


def test_run_mandatory_command_declared_absent_fails_the_review(tmp_path):
    path = write_ics(tmp_path, "bg96", _absent("+QIOPEN"))
    proc, verdicts, _ = run_suite(tmp_path, "--ics", str(path), "suites/test_static_review.py", "-k", "QIOPEN")
    assert verdicts["BG96/ICS/QIOPEN/mandatory"][0] == "fail"
    assert "mandatory" in verdicts["BG96/ICS/QIOPEN/mandatory"][1]
    assert not any(k.startswith("BG96/ICS/QIOPEN/TEST") for k in verdicts)


def test_run_review_fails_on_planted_range_defect(tmp_path):
    """The ICS agrees with the spec; the emulator prints (0-12) for connectID: the
    static-review purpose for it fails, no other review purpose."""
    defects = tmp_path / "defects.yaml"
    defects.write_text(yaml.safe_dump({"test_ranges": {"+QIOPEN": {"connectID": "(0-12)"}}}))
    proc, verdicts, _ = run_suite(tmp_path, "--ics", str(write_ics(tmp_path, "bg96")),
                                  "--emulator-defects", str(defects), "suites/test_static_review.py")
    fails = {k for k, v in verdicts.items() if v[0] == "fail"}
    assert fails == {"BG96/ICS/QIOPEN/TEST/connectID"}, proc.stdout[-2000:]


@pytest.mark.parametrize("content, why", [
    ("model: bg96\ncommands: {+QPONG: {supported: true}}\n", "commands.+QPONG: no such command"),
    ("commands: {}\n", "model: required"),
    (": : :\n", "invalid YAML"),
])
def test_run_bad_ics_stops_in_one_line(tmp_path, content, why):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    proc, _, _ = run_suite(tmp_path, "--ics", str(path), "suites/test_static_review.py")
    assert proc.returncode == 2
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if "bad --ics file" in x]
    assert len(lines) == 1 and why in lines[0], proc.stdout + proc.stderr


SUITES = [m for m in MODELS if (REPO / "suites" / m / "test_generated.py").exists()]


@pytest.mark.parametrize("model", SUITES)
def test_run_every_family_one_command_absent_is_exactly_its_purposes(model, tmp_path):
    """Every family with a generated suite: its ICS with the last command that has
    purposes declared absent gives not applicable for exactly that command's purposes."""
    fam = load_family(model)
    purposes = generate(fam)
    target = [p.command for p in purposes if not p.skip][-1]
    data = yaml.safe_load(default_ics_text(fam))
    data["commands"][target]["supported"] = False
    path = tmp_path / f"{model}.ics.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    key = fam.command(target).key
    # the target's purposes and every command's test-response purpose: the others run too
    proc, verdicts, _ = run_suite(tmp_path, "--ics", str(path), f"suites/{model}/test_generated.py",
                                  "-k", f"{key} or TEST/response or READ/response")
    na = {k for k, v in verdicts.items() if v[0] == "not applicable"}
    assert na == {p.id for p in purposes if p.command == target}, proc.stdout[-2000:]
    assert len(verdicts) > len(na) or len({p.command for p in purposes}) == 1
    assert all(f"commands.{target}.supported: false" in verdicts[k][1] for k in na)


def test_run_ics_declarations_reach_the_family_session(tmp_path):
    """GV500's ICS says the unit NACKs bad input; the emulator stays silent: the bad-input
    purposes fail, naming the declaration. The same name declared otherwise in the IXIT
    stops the run in one line."""
    path = write_ics(tmp_path, "queclink_gv500", lambda t: t.replace('bad_input_reply: "silent"',
                                                                     'bad_input_reply: "nack"'))
    proc, verdicts, _ = run_suite(tmp_path, "--ics", str(path), "suites/queclink_gv500/test_generated.py",
                                  "-k", "seq/too-short")
    assert verdicts and all(v[0] == "fail" and "nack" in v[1] for v in verdicts.values()), verdicts
    ixit = tmp_path / "lab.yaml"
    ixit.write_text("ics: {bad_input_reply: silent}\n")
    proc, _, _ = run_suite(tmp_path, "--ics", str(path), "--ixit", str(ixit), "suites/queclink_gv500/test_generated.py")
    assert proc.returncode == 2
    assert [x for x in (proc.stdout + proc.stderr).splitlines() if "declarations.bad_input_reply" in x]
