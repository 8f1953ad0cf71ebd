"""Secrets never leak (issue 8 item 4): the IXIT's password and SIM PIN are ``***`` in
every output of a run, even when the modem refuses the command that carries them and
the whole line ends up in a failure reason."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from pydantic import ValidationError

from atconform import redact
from atconform.ixit import Ixit
from atconform.families.bg96.session import Bg96Session
from atconform.session import Resolver

REPO = Path(__file__).resolve().parents[1]


def fresh(prefix: str) -> str:
    # the registry is process-wide: a unique secret cannot redact another test's text
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------------------------- units
def test_redact_replaces_registered_secrets_and_their_escaped_forms():
    pw = fresh("pw'q\"b\\s")
    redact.register(pw, "", None)
    assert "" not in redact.secrets() and pw in redact.secrets()
    line = f'AT+QICSGP=1,1,"internet","","{pw}",0'
    for text in (line, repr(line), repr(pw), json.dumps({"reason": line}), f"{line!r} and {pw!a}"):
        assert pw not in redact.redact(text) and "***" in redact.redact(text), text
        assert "pw'q" not in redact.redact(text).replace("\\", ""), text
    assert redact.redact_bytes(line.encode("latin-1")) == b'AT+QICSGP=1,1,"internet","","***",0'
    assert redact.redact_data({"a": [line, 3, (line,)]}) == {"a": ['AT+QICSGP=1,1,"internet","","***",0', 3,
                                                                  ['AT+QICSGP=1,1,"internet","","***",0']]}


def test_redact_exception_in_place_with_its_cause():
    pw = fresh("pw")
    redact.register(pw)
    try:
        try:
            raise ValueError(f"inner {pw}")
        except ValueError as e:
            raise AssertionError(f"outer {pw}", 3) from e
    except AssertionError as exc:
        redact.redact_exception(exc)
        assert exc.args == ("outer ***", 3) and str(exc.__cause__) == "inner ***"


def test_ixit_holds_secrets_as_secretstr_registered_and_not_in_repr():
    pw, pin, dev = fresh("apn"), "0" + uuid.uuid4().hex[:3], fresh("at")
    ixit = Ixit.model_validate({"password": pw, "sim_pin": pin, "device_password": dev})
    for s in (pw, pin, dev):
        assert s not in repr(ixit) and s not in str(ixit) and s in redact.secrets()
    assert ixit.password.get_secret_value() == pw and ixit.sim_pin.get_secret_value() == pin
    assert ixit.device_password.get_secret_value() == dev
    assert Ixit().secrets() == [] and Ixit().device_password is None


def test_ixit_error_does_not_echo_a_secret():
    # YAML reads an unquoted PIN as a number: refused, and the number is not printed
    with pytest.raises(ValidationError) as e:
        Ixit.model_validate(yaml.safe_load("sim_pin: 987654\npassword: 55501234\n"))
    assert "987654" not in str(e.value) and "55501234" not in str(e.value)
    assert "sim_pin" in str(e.value) and "quote" in str(e.value)


class _Recorder:
    """A channel that answers OK to everything and keeps the lines it was sent."""

    def __init__(self):
        self.lines = []

    def command(self, line, **kw):
        self.lines.append(line)
        return SimpleNamespace(ok=True, final=None, info=[], lines=[])


def test_the_real_secret_goes_on_the_wire():
    pw = fresh("wire")
    ixit = Ixit.model_validate({"password": pw})
    ch = _Recorder()
    modem = Bg96Session(ch, None, ixit, Resolver(ixit, {}))
    assert modem.resolver.value("{ixit.password}") == pw
    modem.step('AT+QICSGP={contextID},1,"{ixit.apn}","{ixit.username}","{ixit.password}",0', {"contextID": 2})
    modem.step_context_active(3)
    assert ch.lines[0] == f'AT+QICSGP=2,1,"internet","","{pw}",0'
    assert f'AT+QICSGP=3,1,"internet","","{pw}",0' in ch.lines


# ------------------------------------------------------------------------ end to end
# the flow chart's context timing, the 3.1 scenario, the generated QICSGP and QIACT
# purposes (their preconditions activate a context) and a socket scenario whose
# precondition configures the context: every way the password reaches a modem
SELECT = "QICSGP or QIACT or context_configure or context_commands_answer or tcp_client_buffer"


def test_refused_password_is_redacted_in_every_output(tmp_path):
    if os.environ.get("ATCONFORM_E2E_INNER"):
        pytest.skip("inside an end-to-end run")
    secret, pin = fresh("s3cretPW"), "0" + uuid.uuid4().hex[:5]
    ixit = tmp_path / "ixit.yaml"
    ixit.write_text(f'password: {secret}\nsim_pin: "{pin}"\n')
    defects = tmp_path / "defects.yaml"
    defects.write_text(yaml.safe_dump({"reject_valid": ["+QICSGP"]}))   # ERROR to every valid QICSGP write
    reports, allure_dir, junit = tmp_path / "reports", tmp_path / "allure", tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=-ra", "-l",
           f"--reports={reports}", f"--alluredir={allure_dir}", f"--junitxml={junit}",
           f"--ixit={ixit}", f"--emulator-defects={defects}", "suites/bg96", "-k", SELECT]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)

    outputs = {"stdout": proc.stdout, "stderr": proc.stderr, "junit": junit.read_text()}
    for name in ("results.jsonl", "compliance.json", "compliance.html"):
        outputs[name] = (reports / name).read_text()
    allure_files = sorted(allure_dir.iterdir())
    assert any(f.name.endswith("-attachment.txt") for f in allure_files)
    for f in allure_files:
        outputs[f"allure/{f.name}"] = f.read_text(errors="replace")
    leaks = {name: text.count(s) for name, text in outputs.items() for s in (secret, pin) if s in text}
    assert not leaks, leaks

    # not vacuous: the refusal was exercised and reported with the line, password masked
    results = [json.loads(line) for line in outputs["results.jsonl"].splitlines()]
    refused = [r for r in results if r["type"] == "result" and r["verdict"] in ("fail", "inconclusive")
               and "QICSGP" in r["reason"] and '"***"' in r["reason"]]
    assert {r["verdict"] for r in refused} == {"fail", "inconclusive"}, proc.stdout[-3000:]
    assert any(r["purpose"] == "BG96/SCENARIO/3.1/context" for r in refused)
    assert '"***"' in outputs["junit"] and 'password=SecretStr(' in proc.stdout
    assert proc.returncode == 1
