"""Planted behaviour defects of the Quectel GSM emulator, for self-tests that prove each
checking purpose fails a module that breaks the behaviour (tests/test_gsm_defects.py).
Every ``defect(name)`` call names one of these (checked at import)."""
from __future__ import annotations

import ast
from pathlib import Path

BEHAVIOUR_DEFECTS: dict[str, str] = {
    "close-ok-no-index": "AT+QICLOSE=<i> with QIMUX=1 answers CLOSE OK without '<i>, ' (§5.4 L551)",
    "qiact-wrong-state": "after AT+QIACT the stack reports IP START instead of IP GPRSACT (Figure 3)",
    "qisack-off-by-one": "AT+QISACK reports one byte more sent than went out (§5.2.2)",
    "receive-wrong-length": "+RECEIVE: <i>, <len> announces one byte more than the data (§3.3 L268)",
    "escape-guard-ignored": "+++ leaves data mode without the 500 ms of silence after it (§4 L369)",
    "second-server-ok": "AT+QISERVER prints SERVER OK twice (§3.2 L185)",
    "connect-ok-no-index": "AT+QIOPEN=<i>,... with QIMUX=1 reports CONNECT OK without '<i>, ' (§3.3 L255)",
    "qilocip-adds-ok": "AT+QILOCIP prints OK after the address (§3 L149-151: no final result code)",
    "ipd-no-protocol": "with AT+QISHOWPT=1 the header is IPD<len>: without the protocol (§5.3.1 L534)",
    "send-over-1460-kept": "AT+QISEND sends the bytes beyond 1460 too (§3.1 L164: omitted)",
    "autos-ignored": "timed sending (AT+QIAUTOS) waits for Ctrl-Z instead of the timer (§5.2.2.3 L494)",
    "qistate-five-lines": "AT+QISTATE lists indexes 0-4 only (§5.6.2 L623: six lines)",
    "closed-stays-in-data-mode": "a peer's close in data mode is not reported with CLOSED, data mode stays (§4 L370)",
    "qird-drops-a-byte": "AT+QIRD returns one byte less than it announces (§5.3.2 L544)",
    "server-accepts-beyond-max": "AT+QISERVER=0,<max> accepts more than <max> clients (§3.4 L279)",
    "dns-bypassed": "AT+QIDNSGIP answers from the host's resolver, not the configured DNS servers (§8.2)",
    "ato-no-connect": "ATO answers NO CARRIER although a transparent connection is open (§4.1 L389)",
    "ipd-header-missing": "with AT+QIHEAD=1 received data comes without its IPD header (§5.3.1 L530)",
    "rx-drops-a-byte": "one received byte is lost at the 512 KiB mark of a connection, whatever the data path",
}


class UnknownDefect(KeyError):
    """A ``defect(name)`` call names no entry of :data:`BEHAVIOUR_DEFECTS`."""


def check_defect_calls() -> None:
    """Every ``self.defect("...")`` in this package names a listed defect (import-time
    check, so a typo cannot silently plant nothing). Raises UnknownDefect."""
    here = Path(__file__).parent
    for path in here.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "defect"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                if node.args[0].value not in BEHAVIOUR_DEFECTS:
                    raise UnknownDefect(f"{path.name}: defect {node.args[0].value!r} is not in BEHAVIOUR_DEFECTS")
