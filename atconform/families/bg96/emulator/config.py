"""Typed configuration: AT+QICFG (manual §2.1.15), AT+QISDE (§2.1.16), and the
registration URC settings of AT+CREG/+CGREG/+CEREG. All of it returns to its defaults
at power-on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from atconform.protocol.commands import Match


@dataclass
class TcpipConfig:
    """AT+QICFG settings (§2.1.15), defaults as the manual gives them."""

    transpktsize: int = 1024                 # bytes sent at once in transparent mode, 1-1460
    transwaittm: int = 2                     # x 100 ms before a short packet goes out, 0-20
    dataformat: tuple[int, int] = (0, 0)     # send, receive; 0 text, 1 hex
    viewmode: int = 0                        # 0: header\r\ndata, 1: header,data
    recvind: int = 0                         # 1: the "recv" URC carries the length
    prefix: tuple[str, int] | None = None    # IPv6 prefix, length in bits; unset: no query line
    retranscfg: tuple[int, int] = (8, 600)   # "tcp/retranscfg": max backoffs, max RTO x 100 ms

    # keyword -> (field, the spec's parameter names in order); a single name is a scalar
    KEYWORDS: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "transpktsize": ("transpktsize", ("transpktsize",)),
        "transwaittm": ("transwaittm", ("transwaittm",)),
        "dataformat": ("dataformat", ("send_data_format", "recv_data_format")),
        "viewmode": ("viewmode", ("view_mode",)),
        "recvind": ("recvind", ("recvind",)),
        "prefix": ("prefix", ("ipv6_prefix", "prefix_length")),
        "tcp/retranscfg": ("retranscfg", ("max_backoffs", "max_rto")),
    }

    @property
    def send_hex(self) -> bool:
        return bool(self.dataformat[0])

    @property
    def recv_hex(self) -> bool:
        return bool(self.dataformat[1])

    def set(self, keyword: str, values: Mapping[str, Any]) -> None:
        """Store a write's parameters (``values`` by the spec's names) under
        ``keyword``. Raises KeyError for a keyword or parameter not listed."""
        attr, names = self.KEYWORDS[keyword]
        got = tuple(values[n] for n in names)
        setattr(self, attr, got if len(got) > 1 else got[0])

    def query_line(self, keyword: str) -> str | None:
        """The ``+QICFG: "<keyword>",...`` line of a query, None when the setting is
        unset (prefix). Raises KeyError for an unknown keyword."""
        cur = getattr(self, self.KEYWORDS[keyword][0])
        if cur is None:
            return None
        shown = ",".join(map(str, cur)) if isinstance(cur, tuple) else str(cur)
        return f'+QICFG: "{keyword}",{shown}'


REG_COMMANDS = ("+CREG", "+CGREG", "+CEREG")


@dataclass
class Config:
    """The module's settings: AT+QICFG, AT+QISDE <echo>, and <n> of each registration
    command (0 no URC)."""

    qicfg: TcpipConfig = field(default_factory=TcpipConfig)
    qisde: int = 0     # reading: the manual gives no default for <echo>; 0 is assumed
    reg_n: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REG_COMMANDS, 0))


class ConfigCommands:
    """AT+QICFG, AT+QISDE and AT+CREG/+CGREG/+CEREG <n>, on ``self.config`` (a mixin of
    :class:`~.modem.Bg96`)."""

    config: Config

    def cmd_QICFG_write(self, m: Match) -> None:
        key = m.variant.syntax.split(",")[0].strip('"')     # the keyword, e.g. tcp/retranscfg
        if m.variant.name.endswith("-query"):
            line = self.config.qicfg.query_line(key)
            if line is not None:
                self.info(line)
        else:
            self.config.qicfg.set(key, m.values)
        self.succeed()

    def cmd_QISDE_read(self, m: Match) -> None:
        self.info(f"+QISDE: {self.config.qisde}")
        self.succeed()

    def cmd_QISDE_write(self, m: Match) -> None:
        self.config.qisde = m.values["echo"]
        self.succeed()

    def _reg_read(self, m: Match) -> None:
        stat = self.reg_stat()                  # 1 registered (home); 0 with RF off (AT+CFUN)
        if self._condition("registration_searching", lambda f: m.command.name in f.commands) is not None:
            stat = 2                                                        # searching
            self.fault_fired("registration_searching", f"AT{m.command.name}? reports <stat> 2 (searching)")
        self.info(f"{m.command.name}: {self.config.reg_n[m.command.name]},{stat}")
        self.ok()

    def _reg_write(self, m: Match) -> None:
        self.config.reg_n[m.command.name] = m.values.get("n", 0)
        self.ok()

    cmd_CREG_read = cmd_CGREG_read = cmd_CEREG_read = _reg_read
    cmd_CREG_write = cmd_CGREG_write = cmd_CEREG_write = _reg_write
