"""Planted behaviour defects of the BG96 emulator, for self-tests that prove the suite
fails a bad modem (``Defects.behaviour`` names them).

:data:`BEHAVIOUR_DEFECTS` is the one list. The emulator asks about a defect only
through ``Bg96.defect(name)``, with the name as a string literal, so
:func:`undeclared_defects` can check every call against the list without running it;
the package runs that check when it is imported.
"""
from __future__ import annotations

import ast
from pathlib import Path

# name -> the behaviour it breaks, with the manual section a scenario checks it against
BEHAVIOUR_DEFECTS: dict[str, str] = {
    "context-not-listed": "AT+QIACT? omits active contexts (§2.1.2)",
    "qisend-total-off-by-one": "AT+QISEND=<id>,0 reports one byte more than sent (§2.1.7)",
    "qird-counter-wrong": "AT+QIRD=<id>,0 reports one byte less read (§2.1.8)",
    "recv-urc-repeated": 'a "recv" URC for every arrival, not once per empty buffer (§1.2 note 1)',
    "escape-ignored": "+++ is passed on as data; no OK (§1.2 item 4)",
    "ato-no-carrier": "ATO answers NO CARRIER even after +++ (§1.2 item 5)",
    "push-drops-first-byte": "direct push URC carries one byte less than received (§2.2.2)",
    "qistate-wrong-access-mode": "AT+QISTATE reports <access_mode> 0 for every socket (§2.1.6)",
    "incoming-wrong-serverid": '+QIURC: "incoming" names the wrong <serverID> (§2.2.4)',
    "udp-qird-wrong-port": "AT+QIRD on UDP SERVICE reports the remote port + 1 (§2.1.8)",
    "ping-summary-inconsistent": "+QPING summary with <lost> one too many (§2.1.11)",
    "ntp-time-skewed": "+QNTP time one hour off the server's (§2.1.12)",
    "dns-bypassed": "host names are resolved by the host OS, not the context's DNS servers (§2.1.13, §2.1.4)",
    "dns-wrong-address": "+QIURC: \"dnsgip\" lists a wrong address (§2.1.14)",
    "qigeterror-wrong": "AT+QIGETERROR says 553 after invalid parameters (§3.9)",
    "connect-failed-wrong-err": "a refused connection reports <err> 550, not 566 (chapter 4)",
    "used-connectid-accepted": "QIOPEN on a used <connectID> is accepted (563, chapter 4)",
    "no-closed-urc": 'no +QIURC: "closed" when the peer closes (§2.2.1)',
    "no-pdpdeact-urc": 'no +QIURC: "pdpdeact" when the network drops the context (§2.2.5)',
    "rx-drops-a-byte": "one received byte is lost once a socket has received 512 KiB (§1.2)",
    "recvind-ignored": 'with AT+QICFG="recvind",1 the recv URC still has no length (§2.1.15)',
    "hex-receive-ignored": 'AT+QIRD returns raw bytes although "dataformat" receive is hex (§2.1.15)',
    "qisde-no-echo": "AT+QISDE=1 does not echo the send data (§2.1.16)",
    "esc-sends": "ESC after '>' sends the data instead of cancelling (§2.1.7)",
    "no-incoming-full": 'no +QIURC: "incoming full" when no connectID is free (§2.2.3)',
    "udp-client-drops-datagrams": "a UDP client socket loses every received datagram (§2.1.4)",
    "transwaittm-ignored": "transparent data is sent at once, ignoring transpktsize/transwaittm (§2.1.15)",
    "opening-reported-connected": "AT+QISTATE reports a socket still connecting as Connected (§2.1.6)",
    "no-carrier-missing": "no NO CARRIER when the peer closes during transparent mode (§1.2 note 2)",
    # general commands (atconform/emulator/general.py) and V.250 line handling (dce.py)
    "cfun-reset-no-app-rdy": "AT+CFUN=1,1 reboots without the APP RDY URC (27.007 §8.2, Quectel boot URCs)",
    "cgatt-disagrees-with-qiact": "AT+CGATT? reports 0 while AT+QIACT? lists an active context (27.007 §10.1.9)",
    "cclk-ignores-qntp": "AT+QNTP does not set the clock AT+CCLK?/AT+QLTS read (27.007 §8.15, §2.1.12)",
    "lf-taken-as-data": "the LF after a '>' command line's CR is taken as the first payload byte (V.250 §5.2.1)",
}


class UnknownDefect(ValueError):
    """A ``defect(...)`` call names a defect :data:`BEHAVIOUR_DEFECTS` does not list."""


def defect_calls(package: Path | None = None) -> list[tuple[str, int, str | None]]:
    """Every ``defect(...)`` / ``self.defect(...)`` call in the emulator package's
    modules: (file name, line, the literal name or None when it is not a string
    literal)."""
    package = package or Path(__file__).parent
    calls = []
    paths = sorted(package.glob("*.py"))
    if package == Path(__file__).parent:
        # the shared general commands ask for BG96's defects too
        paths.append(Path(__file__).parents[3] / "emulator" / "general.py")
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if not (isinstance(f, ast.Attribute) and f.attr == "defect"
                    or isinstance(f, ast.Name) and f.id == "defect"):
                continue
            arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
            name = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            calls.append((path.name, node.lineno, name))
    return calls


def undeclared_defects(package: Path | None = None) -> list[str]:
    """``file:line: reason`` for each ``defect(...)`` call whose name is not a string
    literal listed in :data:`BEHAVIOUR_DEFECTS`; empty when all are."""
    return [f"{file}:{line}: " + ("defect name is not a string literal" if name is None
                                  else f"defect {name!r} is not in BEHAVIOUR_DEFECTS")
            for file, line, name in defect_calls(package) if name not in BEHAVIOUR_DEFECTS]


def check_defect_calls() -> None:
    """Raises :class:`UnknownDefect` listing every undeclared ``defect(...)`` call."""
    bad = undeclared_defects()
    if bad:
        raise UnknownDefect("BG96 emulator: " + "; ".join(bad))
