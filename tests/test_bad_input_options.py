"""Fail fast on bad input (issue 8 item 5): a malformed IXIT, defects file or spec, a
missing --port device, an unusable --tcp address stop the suite or the CLI before any
test runs, with one line naming the file, the field and the reason, and exit status 2.

Each case runs as the user runs it, in a subprocess; nothing in them starts a modem, so
each exits within a second or two.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atconform.errors import BadInput, load_yaml_model
from atconform.ixit import Ixit

REPO = Path(__file__).resolve().parents[1]
UNBINDABLE = ("203.0.113.5", 7000)     # TEST-NET-3: no host of ours has it; bind only, nothing is sent


def run(args: list[str], env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ATCONFORM_E2E_INNER": "1", **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


def run_suite(reports: Path, *args: str, env: dict | None = None) -> tuple[int, str]:
    return run(["-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=-ra", "--reports", str(reports), *args],
               env)


def assert_one_line(rc: int, out: str, *says: str) -> None:
    """Exit 2, no traceback, and one line that says all of ``says``."""
    assert rc == 2, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    for s in says:
        assert s in lines[0], (s, out)


def assert_no_test_ran(out: str, reports: Path) -> None:
    assert " passed" not in out and " failed" not in out and " error" not in out, out
    results = reports / "results.jsonl"
    if results.exists():
        recs = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        assert not [r for r in recs if r.get("type") == "result"], recs[:3]


# ------------------------------------------------------------------------ pytest
@pytest.mark.parametrize("text, says", [
    ("context_id: abc\n", ["context_id", "valid integer"]),                      # wrong type
    ("apn: internet\nbogus: 1\n", ["bogus", "unknown key"]),                    # unknown key
    ("apn: [\n", ["line 2, column 1", "invalid YAML"]),                          # not YAML
    ("peers:\n  dns: {host: 8.8.8.8, port: x}\n", ["peers.dns.port", "valid integer"]),
], ids=["wrong-type", "unknown-key", "invalid-yaml", "nested-field"])
def test_malformed_ixit_stops_the_run(tmp_path, text, says):
    ixit = tmp_path / "lab.yaml"
    ixit.write_text(text)
    rc, out = run_suite(tmp_path / "reports", "--ixit", str(ixit))
    assert_one_line(rc, out, str(ixit), "--ixit", *says)
    assert_no_test_ran(out, tmp_path / "reports")


def test_missing_ixit_file_stops_the_run(tmp_path):
    rc, out = run_suite(tmp_path / "reports", "--ixit", str(tmp_path / "nope.yaml"))
    assert_one_line(rc, out, str(tmp_path / "nope.yaml"), "No such file")
    assert_no_test_ran(out, tmp_path / "reports")


def test_missing_port_device_stops_the_run(tmp_path):
    rc, out = run_suite(tmp_path / "reports", "--port", "/dev/nonexistent", "--model", "bg96")
    assert_one_line(rc, out, "--port /dev/nonexistent", "no such device")
    assert_no_test_ran(out, tmp_path / "reports")


def test_port_url_with_unknown_scheme_stops_the_run(tmp_path):
    rc, out = run_suite(tmp_path / "reports", "--port", "sockt://127.0.0.1:7000", "--model", "bg96")
    assert_one_line(rc, out, "--port sockt://127.0.0.1:7000", "'sockt'")
    assert_no_test_ran(out, tmp_path / "reports")


@pytest.mark.parametrize("text, says", [
    ("drop_final_ok: [+QIACT]\nbogus: 1\n", ["bogus", "unknown key"]),
    ("drop_final_ok: +QIACT\n", ["drop_final_ok", "valid list"]),
    ("drop_final_ok: [\n", ["invalid YAML"]),
    (None, ["No such file"]),
], ids=["unknown-key", "wrong-type", "invalid-yaml", "missing"])
def test_bad_emulator_defects_file_stops_the_run(tmp_path, text, says):
    defects = tmp_path / "defects.yaml"
    if text is not None:
        defects.write_text(text)
    rc, out = run_suite(tmp_path / "reports", "--emulator-defects", str(defects))
    assert_one_line(rc, out, str(defects), "--emulator-defects", *says)
    assert_no_test_ran(out, tmp_path / "reports")


@pytest.fixture
def bad_specs(tmp_path) -> Path:
    """A copy of specs/ whose bg96.yaml has an unknown key in its first command."""
    d = tmp_path / "specs"
    shutil.copytree(REPO / "specs", d)
    text = (d / "bg96.yaml").read_text()
    i = text.index("\ncommands:\n")
    j = text.index("  - name:", i)
    (d / "bg96.yaml").write_text(text[:j] + "  - colour: red\n    name:" + text[j + len("  - name:"):])
    return d


def test_malformed_spec_stops_the_run(tmp_path, bad_specs):
    rc, out = run_suite(tmp_path / "reports", env={"ATCONFORM_SPECS": str(bad_specs)})
    assert_one_line(rc, out, str(bad_specs / "bg96.yaml"), "commands[0].colour", "unknown key")
    assert_no_test_ran(out, tmp_path / "reports")


# ------------------------------------------------------------------------ CLI
def test_cli_malformed_spec_is_one_line(bad_specs):
    for sub in (["emulate", "--model", "bg96"], ["purposes", "--model", "bg96"]):
        rc, out = run(["-m", "atconform", *sub], env={"ATCONFORM_SPECS": str(bad_specs)})
        assert_one_line(rc, out, f"atconform {sub[0]}: bad spec", str(bad_specs / "bg96.yaml"),
                        "commands[0].colour", "unknown key")


@pytest.mark.parametrize("addr", ["nonsense", "127.0.0.1:99999", "127.0.0.1:http", "127.0.0.1"])
def test_cli_tcp_not_host_port_is_one_line(addr):
    rc, out = run(["-m", "atconform", "emulate", "--model", "bg96", "--tcp", addr])
    assert_one_line(rc, out, "atconform emulate:", "--tcp", "HOST:PORT", repr(addr))


def test_cli_tcp_address_that_cannot_be_bound_is_one_line():
    s = socket.socket()
    try:
        s.bind(UNBINDABLE)
        pytest.skip(f"this host can bind {UNBINDABLE}")
    except OSError:
        pass
    finally:
        s.close()
    host, port = UNBINDABLE
    rc, out = run(["-m", "atconform", "emulate", "--model", "bg96", "--tcp", f"{host}:{port}"])
    assert_one_line(rc, out, f"atconform emulate: cannot listen on {host}:{port}")
    assert "TCP " not in out


@pytest.mark.parametrize("text, says", [
    ("bogus: 1\n", ["bogus", "unknown key"]),
    ("urc_after: [1, 2]\n", ["urc_after", "valid dictionary"]),
    ("drop_final_ok: [\n", ["invalid YAML"]),
    (None, ["No such file"]),
], ids=["unknown-key", "wrong-type", "invalid-yaml", "missing"])
def test_cli_bad_defects_file_is_one_line(tmp_path, text, says):
    defects = tmp_path / "defects.yaml"
    if text is not None:
        defects.write_text(text)
    rc, out = run(["-m", "atconform", "emulate", "--model", "bg96", "--defects", str(defects)])
    assert_one_line(rc, out, "atconform emulate: bad defects file", str(defects), *says)


def test_cli_bad_fault_plan_field_is_one_line(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("seed: 1\nfaults:\n  - kind: reboot\n    at: -1\n")
    rc, out = run(["-m", "atconform", "emulate", "--model", "bg96", "--faults", str(plan)])
    assert_one_line(rc, out, "atconform emulate: bad fault plan", str(plan), "faults[0]", ".at", "greater than")


@pytest.mark.parametrize("args, says", [
    (["report", "--bogus"], ["atconform report: error:", "--bogus"]),
    (["report", "missing.jsonl"], ["atconform report: error:", "missing.jsonl", "No such file"]),
    (["report", "--json"], ["atconform report: error:", "--json needs --diff"]),
    (["emulate"], ["atconform emulate: error:", "--model"]),
])
def test_cli_usage_errors_are_one_line(tmp_path, args, says):
    args = [str(tmp_path / a) if a.endswith(".jsonl") else a for a in args]
    rc, out = run(["-m", "atconform", *args])
    assert_one_line(rc, out, *says)


# ------------------------------------------------------------------------ the one-liner
def test_validation_errors_are_joined_on_one_line_without_values(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text("password: [s3cret]\nsim_pin: {pin: 1234}\ncontext_id: x\n")
    with pytest.raises(BadInput) as e:
        load_yaml_model(f, Ixit)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{f}: ")
    assert "password: " in msg and "sim_pin: " in msg and "context_id: " in msg and msg.count("; ") == 2
    assert "s3cret" not in msg and "1234" not in msg     # an IXIT's values may be secrets
    assert [field for field, _ in e.value.problems] == ["password", "sim_pin", "context_id"]


def test_yaml_error_gives_the_position_not_the_text(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text('apn: internet\npassword: "s3cret\n')
    with pytest.raises(BadInput) as e:
        load_yaml_model(f, Ixit)
    msg = str(e.value)
    assert msg.startswith(f"{f}: line 3, column 1: invalid YAML: "), msg
    assert "\n" not in msg and "s3cret" not in msg, msg
