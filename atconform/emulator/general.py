"""General commands of a cellular module (3GPP TS 27.007, 27.005, ITU-T V.250), shared by
every V.250 family's emulator: identity, functionality level, radio, packet domain attach
and PDP contexts, clock, the stored profile, and the SMS and call set-up a host library
sends at start-up (27.005 +CMGF/+CSCA/+CSMP/+CPMS/+CNMI; 27.007 +CLIP/+CRC/+CVHU): their
settings are kept and read back, but no short message or call ever arrives.

:class:`GeneralCommands` is a mixin of the family DCE (before :class:`~.dce.Dce` in the
bases). It keeps its state in ``self.general`` (:class:`GeneralState`, fresh at every
power-on; the profile stored with AT&W in ``self.profile`` outlives boots) and reads
identity and radio from ``self.module`` (:class:`ModuleConfig`, given at construction).

A family supplies its PDP contexts through four hooks, which the TCP/IP commands of
the family use too, so AT+CGACT/AT+CGATT and the family's own activation commands see
one state: :meth:`pdp_contexts`, :meth:`pdp_activate`, :meth:`pdp_deactivate` and
:meth:`pdp_define`; and the reboot of ``AT+CFUN=1,1`` through :meth:`restart`.
"""
from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from typing import Iterable, Protocol

from pydantic import BaseModel, ConfigDict, Field

from atconform.protocol.commands import Match

# 3GPP TS 27.007 §9.2.1 <err> codes used here
CME_SIM_FAILURE = 13
CME_NO_NETWORK = 30
CME_NOT_ALLOWED = 3

# AT+CFUN <fun> (27.007 §8.2) the module supports
FUN_MINIMUM, FUN_FULL, FUN_RF_OFF = 0, 1, 4

# 3GPP TS 27.005 preferred message storages (§3.1 <mem1>..<mem3>) the module offers and
# their capacities (<total>); no message is ever stored (<used> 0)
SMS_STORAGES = {"SM": 50, "ME": 255, "MT": 305}      # "MT": "ME" and "SM" together

# Default RTC at power-on: 1980/01/06 00:00:00 UTC (the GPS epoch, as modules start)
RTC_DEFAULT = calendar.timegm((1980, 1, 6, 0, 0, 0))


class Radio(BaseModel):
    """The network the emulated module sees (AT+CSQ, AT+COPS, AT+QNWINFO, AT+QSPN).

    ``rssi`` 0-31 or 99 (27.007 §8.5, -113 dBm + 2 dB steps), ``ber`` 0-7 or 99;
    ``act``: <AcT> of AT+COPS (7 E-UTRAN; BG96 reports 8 for LTE Cat M1, 9 for NB-IoT);
    ``registered``: the network accepts the module (CREG/CGREG/CEREG <stat> 1)."""

    model_config = ConfigDict(extra="forbid")
    rssi: int = Field(24, ge=0, le=99)
    ber: int = Field(99, ge=0, le=99)
    operator_long: str = "CHINA MOBILE"
    operator_short: str = "CMCC"
    operator_numeric: str = "46000"
    act: int = Field(8, ge=0, le=9)
    act_name: str = "CAT-M1"              # AT+QNWINFO <Act>
    band: str = "LTE BAND 3"              # AT+QNWINFO <band>
    channel: int = 1650                   # AT+QNWINFO <channel> (EARFCN)
    spn: str = ""                         # AT+QSPN <SPN>, from the SIM
    registered: bool = True


class ModuleConfig(BaseModel):
    """Identity and radio of an emulated module. Each family gives its own defaults
    (BG96: ``BG96_IDENTITY`` in its emulator); a test passes its own
    (``Emulator(..., config=ModuleConfig(imei=...))``).

    ``imei`` 15 digits, ``imsi`` up to 15 digits, ``iccid`` 19-20 digits; ``voltage``
    in millivolts (AT+CBC)."""

    model_config = ConfigDict(extra="forbid")
    manufacturer: str = "atconform"
    model: str = "emulated module"
    revision: str = "0"
    imei: str = Field("866425030000007", pattern=r"^[0-9]{15}$")
    imsi: str = Field("460001234567890", pattern=r"^[0-9]{6,15}$")
    iccid: str = Field("89860012345678901234", pattern=r"^[0-9]{19,20}$")
    voltage: int = 3800
    smsc: str = "+8613800100500"          # SMS service centre on the SIM (AT+CSCA?)
    radio: Radio = Field(default_factory=Radio)


class PdpContext(Protocol):
    """What :class:`GeneralCommands` reads of a family's PDP context."""

    cid: int
    pdp_type: str          # "IP", "PPP", "IPV6", "IPV4V6"
    apn: str
    active: bool
    defined: bool

    @property
    def ip(self) -> str: ...


@dataclass
class Rtc:
    """The real-time clock: UTC seconds ``base`` at ``at`` (seconds of the DCE's clock);
    ``tz``: time zone in quarters of an hour (27.007 §8.15)."""

    base: float = RTC_DEFAULT
    at: float = 0.0
    tz: int = 0
    synced: bool = False                  # set from the network (AT+QNTP)

    def utc(self, now: float) -> float:
        return self.base + (now - self.at)

    def set(self, utc: float, tz: int, now: float) -> None:
        self.base, self.tz, self.at = utc, tz, now


@dataclass
class GeneralState:
    """State of the general commands, fresh at power-on: <fun> (AT+CFUN), the packet
    domain attach (AT+CGATT), AT+COPS <mode>/<format>, AT+CTZR/AT+CTZU and the RTC."""

    fun: int = FUN_FULL
    attached: bool = True
    cops_mode: int = 0
    cops_format: int = 0
    ctzr: int = 0
    ctzu: int = 0
    rtc: Rtc = field(default_factory=Rtc)
    # SMS (27.005) and call set-up (27.007 ch. 6-7): settings only
    cmgf: int = 0                          # <mode> 0 PDU, 1 text
    sca: tuple[str, int] | None = None     # AT+CSCA; None: the SIM's (ModuleConfig.smsc)
    csmp: list[int] = field(default_factory=lambda: [17, 167, 0, 0])   # <fo>,<vp>,<pid>,<dcs>
    cpms: list[str] = field(default_factory=lambda: ["SM", "SM", "SM"])
    cnmi: list[int] = field(default_factory=lambda: [2, 1, 0, 0, 0])  # <mode>,<mt>,<bm>,<ds>,<bfr>
    clip: int = 0
    crc: int = 0
    cvhu: int = 0


# settings AT&W stores and ATZ restores (V.250 §6.1.1: "the profile last stored")
PROFILE_KEYS = ("echo", "verbose", "quiet", "cmee")


def _quarters(tz: int) -> str:
    return f"{'+' if tz >= 0 else '-'}{abs(tz):02d}"


class GeneralCommands:
    """The general commands, as ``cmd_<KEY>_<form>`` handlers found by :class:`Dce`.

    The host class provides ``module`` (:class:`ModuleConfig`), ``general``
    (:class:`GeneralState`), ``clock``, ``call_later``, and the PDP hooks below."""

    module: ModuleConfig
    general: GeneralState
    profile: dict | None = None            # AT&W; None: factory settings

    # -- hooks a family provides ----------------------------------------------------
    def pdp_contexts(self) -> Iterable[PdpContext]:
        """Every PDP context, defined or not, by <cid>."""
        raise NotImplementedError

    def pdp_activate(self, cid: int) -> bool:
        """Activate context ``cid``; False when the module refuses (no room, not
        defined). Activating an active context succeeds (27.007 §10.1.10)."""
        raise NotImplementedError

    def pdp_deactivate(self, cid: int) -> None:
        """Deactivate context ``cid`` and close what runs on it."""
        raise NotImplementedError

    def pdp_define(self, cid: int, pdp_type: str | None, apn: str = "") -> None:
        """Define context ``cid`` (AT+CGDCONT); ``pdp_type`` None undefines it."""
        raise NotImplementedError

    def restart(self, boot_urcs: list[tuple[float, str]]) -> None:
        """Reboot: power off now, on again; then each URC at its delay (seconds after
        power-on, the first is RDY)."""
        raise NotImplementedError

    def defect(self, name: str) -> bool:
        """A planted behaviour defect (the family's list); none by default."""
        return False

    # -- derived state --------------------------------------------------------------
    @property
    def radio_on(self) -> bool:
        """<fun> 1: transmit and receive (27.007 §8.2); 0 and 4 switch RF off."""
        return self.general.fun == FUN_FULL

    @property
    def sim_on(self) -> bool:
        return self.general.fun != FUN_MINIMUM

    @property
    def registered(self) -> bool:
        """Registered on the network: RF on, not deregistered by AT+COPS=2, the radio
        model accepts the module."""
        return self.radio_on and self.general.cops_mode != 2 and self.module.radio.registered

    def reg_stat(self) -> int:
        """<stat> of AT+CREG?/+CGREG?/+CEREG? (27.007 §7.2): 1 registered (home), 0 not
        registered and not searching."""
        return 1 if self.registered else 0

    def attach(self) -> bool:
        """Attach to the packet domain (PDP activation attaches first); False when not
        registered."""
        if not self.registered:
            return False
        self.general.attached = True
        return True

    def detach(self) -> None:
        """Packet domain detach: every active context is deactivated (27.007 §10.1.9)."""
        for ctx in list(self.pdp_contexts()):
            if ctx.active:
                self.pdp_deactivate(ctx.cid)
        self.general.attached = False

    def cgatt_state(self) -> int:
        return 1 if self.general.attached and self.registered else 0

    # -- time -----------------------------------------------------------------------
    def set_network_time(self, text: str) -> None:
        """Set the RTC from a network time ``yyyy/MM/dd,hh:mm:ss±zz`` (UTC plus the time
        zone in quarters of an hour: AT+QNTP's, seed 002 §2.1.12). Raises ValueError for
        any other shape."""
        date, clock_tz = text.split(",")
        sign = 1 if "+" in clock_tz else -1
        clock, tz = clock_tz.replace("-", "+").split("+")
        local = calendar.timegm(time.strptime(f"{date},{clock}", "%Y/%m/%d,%H:%M:%S"))
        quarters = sign * int(tz)
        self.general.rtc.set(local - quarters * 900, quarters, self.clock.now())
        self.general.rtc.synced = True

    def _local(self, gmt: bool = False) -> tuple[time.struct_time, int]:
        rtc = self.general.rtc
        tz = 0 if gmt else rtc.tz
        return time.gmtime(rtc.utc(self.clock.now()) + tz * 900), tz

    # -- identity (27.007 §5, V.250 §6.1) -------------------------------------------
    def _text(self, value: str) -> None:
        self.info(value)
        self.ok()

    def cmd_CGMI_execute(self, m: Match) -> None:
        self._text(self.module.manufacturer)

    def cmd_CGMM_execute(self, m: Match) -> None:
        self._text(self.module.model)

    def cmd_CGMR_execute(self, m: Match) -> None:
        self._text(self.module.revision)

    def cmd_GMR_execute(self, m: Match) -> None:
        self._text(self.module.revision)

    def cmd_GSN_execute(self, m: Match) -> None:
        self._text(self.module.imei)

    def cmd_CGSN_execute(self, m: Match) -> None:
        self._text(self.module.imei)

    def cmd_CGSN_write(self, m: Match) -> None:
        # 27.007 §5.4 <snt>: 0 <sn>, 1 IMEI, 2 IMEISV, 3 SVN
        snt = m.values["snt"]
        svn = "01"
        self.info({0: self.module.imei, 1: f'+CGSN: "{self.module.imei}"',
                   2: f'+CGSN: "{self.module.imei[:14]}{svn}"', 3: f'+CGSN: "{svn}"'}[snt])
        self.ok()

    def cmd_CIMI_execute(self, m: Match) -> None:
        if not self.sim_on:
            self.error(CME_SIM_FAILURE)
            return
        self._text(self.module.imsi)

    def cmd_QCCID_execute(self, m: Match) -> None:
        if not self.sim_on:
            self.error(CME_SIM_FAILURE)
            return
        self._text(f"+QCCID: {self.module.iccid}")

    # -- functionality (27.007 §8.2) ------------------------------------------------
    def cmd_CFUN_read(self, m: Match) -> None:
        self._text(f"+CFUN: {self.general.fun}")

    def cmd_CFUN_write(self, m: Match) -> None:
        fun, rst = m.values["fun"], m.values.get("rst", 0)
        if rst:
            # reset before setting: the module boots at <fun> 1 (seed has no CFUN; the
            # boot URCs are the BG96 AT manual's, read in the spec notes)
            self.ok()
            urcs = [(0.0, "RDY"), (0.1, "+CFUN: 1"), (0.2, "+CPIN: READY"), (0.3, "+QUSIM: 1"),
                    (0.5, "+QIND: SMS DONE")]
            if not self.defect("cfun-reset-no-app-rdy"):
                urcs.append((0.6, "APP RDY"))
            self.restart(urcs)
            return
        if fun != FUN_FULL:
            self.detach()                  # RF off: the network drops every context
        self.general.fun = fun
        self.ok()

    def cmd_CPAS_execute(self, m: Match) -> None:
        self._text("+CPAS: 0")             # 27.007 §8.1: 0 ready

    def cmd_CBC_execute(self, m: Match) -> None:
        # 27.007 §8.4 <bcs> 0 powered by battery, <bcl> %; the BG96 adds <voltage> in mV
        v = self.module.voltage
        level = max(0, min(100, (v - 3300) * 100 // 900))
        self._text(f"+CBC: 0,{level},{v}")

    # -- radio (27.007 §8.5, §7.3; Quectel QSPN/QNWINFO) ----------------------------
    def cmd_CSQ_execute(self, m: Match) -> None:
        r = self.module.radio
        self._text(f"+CSQ: {r.rssi},{r.ber}" if self.radio_on else "+CSQ: 99,99")

    def _oper(self, fmt: int) -> str:
        r = self.module.radio
        return {0: r.operator_long, 1: r.operator_short, 2: r.operator_numeric}[fmt]

    def cmd_COPS_read(self, m: Match) -> None:
        g = self.general
        if not self.registered:
            self._text(f"+COPS: {g.cops_mode}")
            return
        self._text(f'+COPS: {g.cops_mode},{g.cops_format},"{self._oper(g.cops_format)}",{self.module.radio.act}')

    def cmd_COPS_test(self, m: Match) -> None:
        r = self.module.radio
        nets = f'(2,"{r.operator_long}","{r.operator_short}","{r.operator_numeric}",{r.act})' if self.radio_on else ""
        self._text(f"+COPS: {nets},,(0-4),(0-2)")

    def cmd_COPS_write(self, m: Match) -> None:
        v, g = m.values, self.general
        mode = v["mode"]
        if "format" in v:
            g.cops_format = v["format"]
        if mode in (1, 4):
            oper = v.get("oper")
            r = self.module.radio
            if oper is not None and oper not in (r.operator_long, r.operator_short, r.operator_numeric):
                if mode == 1:
                    self.error(CME_NO_NETWORK)
                    return
            mode = 1 if mode == 1 else 0       # 4: manual failed, automatic entered
        if mode == 2:
            self.detach()
        if mode != 3:
            g.cops_mode = mode
        self.ok()

    def cmd_QSPN_execute(self, m: Match) -> None:
        if not self.registered:
            self.error(CME_NO_NETWORK)
            return
        r = self.module.radio
        self._text(f'+QSPN: "{r.operator_long}","{r.operator_short}","{r.spn}",0,"{r.operator_numeric}"')

    def cmd_QNWINFO_execute(self, m: Match) -> None:
        r = self.module.radio
        if not self.registered:
            self._text("+QNWINFO: No Service")
            return
        self._text(f'+QNWINFO: "{r.act_name}","{r.operator_numeric}","{r.band}",{r.channel}')

    # -- packet domain (27.007 §10.1) -----------------------------------------------
    def cmd_CGATT_read(self, m: Match) -> None:
        state = self.cgatt_state()
        if self.defect("cgatt-disagrees-with-qiact") and any(c.active for c in self.pdp_contexts()):
            state = 0
        self._text(f"+CGATT: {state}")

    def cmd_CGATT_write(self, m: Match) -> None:
        if m.values["state"] == 1:
            if not self.attach():
                self.error(CME_NO_NETWORK)
                return
        else:
            self.detach()
        self.ok()

    def cmd_CGDCONT_read(self, m: Match) -> None:
        for c in self.pdp_contexts():
            if c.defined:
                addr = c.ip if c.active else "0.0.0.0"
                self.info(f'+CGDCONT: {c.cid},"{c.pdp_type}","{c.apn}","{addr}",0,0')
        self.ok()

    def cmd_CGDCONT_write(self, m: Match) -> None:
        v = m.values
        cid = v["cid"]
        ctx = next(c for c in self.pdp_contexts() if c.cid == cid)
        if ctx.active:
            self.error(CME_NOT_ALLOWED)        # reading: an active context is not redefined
            return
        self.pdp_define(cid, v.get("PDP_type"), v.get("APN", ""))
        self.ok()

    def cmd_CGACT_read(self, m: Match) -> None:
        for c in self.pdp_contexts():
            if c.defined:
                self.info(f"+CGACT: {c.cid},{int(c.active)}")
        self.ok()

    def cmd_CGACT_write(self, m: Match) -> None:
        state, cid = m.values["state"], m.values.get("cid")
        targets = [c.cid for c in self.pdp_contexts() if c.defined and (cid is None or c.cid == cid)]
        if cid is not None and not targets:
            self.error(CME_NOT_ALLOWED)        # not defined
            return
        for t in targets:
            if state == 1:
                if not self.attach() or not self.pdp_activate(t):
                    self.error(CME_NOT_ALLOWED if self.registered else CME_NO_NETWORK)
                    return
            else:
                self.pdp_deactivate(t)
        self.ok()

    def _addr_line(self, c) -> str:
        return f'+CGPADDR: {c.cid},"{c.ip}"' if c.active else f"+CGPADDR: {c.cid}"

    def cmd_CGPADDR_execute(self, m: Match) -> None:
        for c in self.pdp_contexts():
            if c.defined:
                self.info(self._addr_line(c))
        self.ok()

    def cmd_CGPADDR_write(self, m: Match) -> None:
        cid = m.values["cid"]
        c = next(c for c in self.pdp_contexts() if c.cid == cid)
        self._text(self._addr_line(c))

    def cmd_CGPADDR_test(self, m: Match) -> None:
        # reading (spec notes): every <cid> can be queried
        cids = [c.cid for c in self.pdp_contexts()]
        self._text(f"+CGPADDR: ({cids[0]}-{cids[-1]})")

    # -- clock (27.007 §8.15, §8.40, §8.41; Quectel QLTS) ---------------------------
    def cmd_CCLK_read(self, m: Match) -> None:
        t, tz = self._local()
        self._text(f'+CCLK: "{time.strftime("%y/%m/%d,%H:%M:%S", t)}{_quarters(tz)}"')

    def cmd_CCLK_write(self, m: Match) -> None:
        text = m.values["time"]
        try:
            date, clock_tz = text.split(",")
            sign = 1 if "+" in clock_tz else -1
            clock, tz = clock_tz.replace("-", "+").split("+")
            local = calendar.timegm(time.strptime(f"{date},{clock}", "%y/%m/%d,%H:%M:%S"))
            quarters = sign * int(tz)
            if not -96 <= quarters <= 96:
                raise ValueError(tz)
        except ValueError:
            self.error(CME_NOT_ALLOWED)
            return
        self.general.rtc.set(local - quarters * 900, quarters, self.clock.now())
        self.ok()

    def _qlts(self, gmt: bool) -> None:
        t, tz = self._local(gmt)
        self._text(f'+QLTS: "{time.strftime("%Y/%m/%d,%H:%M:%S", t)}{_quarters(tz)},0"')

    def cmd_QLTS_execute(self, m: Match) -> None:
        self._qlts(gmt=False)

    def cmd_QLTS_write(self, m: Match) -> None:
        # Quectel: 0 the time last synchronized from the network, 1 GMT, 2 local time
        self._qlts(gmt=m.values["mode"] == 1)

    def cmd_CTZR_read(self, m: Match) -> None:
        self._text(f"+CTZR: {self.general.ctzr}")

    def cmd_CTZR_write(self, m: Match) -> None:
        self.general.ctzr = m.values["reporting"]
        self.ok()

    def cmd_CTZU_read(self, m: Match) -> None:
        self._text(f"+CTZU: {self.general.ctzu}")

    def cmd_CTZU_write(self, m: Match) -> None:
        self.general.ctzu = m.values["onoff"]
        self.ok()

    # -- SMS (3GPP TS 27.005 ch. 3): settings only, no message is ever stored or sent -
    def cmd_CMGF_read(self, m: Match) -> None:
        self._text(f"+CMGF: {self.general.cmgf}")

    def cmd_CMGF_write(self, m: Match) -> None:
        self.general.cmgf = m.values.get("mode", 0)     # §3.2.3: omitted <mode> is 0
        self.ok()

    def _sca(self) -> tuple[str, int]:
        sca = self.general.sca
        if sca is None:
            number = self.module.smsc
            sca = (number, 145 if number.startswith("+") else 129)
        return sca

    def cmd_CSCA_read(self, m: Match) -> None:
        number, tosca = self._sca()
        self._text(f'+CSCA: "{number}",{tosca}')

    def cmd_CSCA_write(self, m: Match) -> None:
        # §3.1 <tosca>: default as <toda>, 145 when <sca> starts with "+", else 129
        number = m.values["sca"]
        self.general.sca = (number, m.values.get("tosca", 145 if number.startswith("+") else 129))
        self.ok()

    def cmd_CSMP_read(self, m: Match) -> None:
        self._text("+CSMP: " + ",".join(str(v) for v in self.general.csmp))

    def cmd_CSMP_write(self, m: Match) -> None:
        # an omitted parameter keeps its value (reading of §3.3.2, as modules do)
        for i, name in enumerate(("fo", "vp", "pid", "dcs")):
            if name in m.values:
                self.general.csmp[i] = m.values[name]
        self.ok()

    def _cpms_counts(self, mems: list[str]) -> str:
        return ",".join(f"0,{SMS_STORAGES[mem]}" for mem in mems)

    def cmd_CPMS_read(self, m: Match) -> None:
        self._text("+CPMS: " + ",".join(f'"{mem}",0,{SMS_STORAGES[mem]}' for mem in self.general.cpms))

    def cmd_CPMS_write(self, m: Match) -> None:
        # §3.2.2: the response gives <used>,<total> of all three storages
        for i, name in enumerate(("mem1", "mem2", "mem3")):
            if name in m.values:
                self.general.cpms[i] = m.values[name]
        self._text("+CPMS: " + self._cpms_counts(self.general.cpms))

    def cmd_CNMI_read(self, m: Match) -> None:
        self._text("+CNMI: " + ",".join(str(v) for v in self.general.cnmi))

    def cmd_CNMI_write(self, m: Match) -> None:
        # an omitted parameter keeps its value (reading of §3.4.1); no message arrives,
        # so no +CMTI/+CMT/+CBM/+CDS is ever sent
        for i, name in enumerate(("mode", "mt", "bm", "ds", "bfr")):
            if name in m.values:
                self.general.cnmi[i] = m.values[name]
        self.ok()

    # -- call set-up (27.007 §6.11, §6.20, §7.6): settings only, no call arrives -----
    def cmd_CLIP_read(self, m: Match) -> None:
        # <m>: 1 CLIP provisioned; 2 unknown when there is no network
        self._text(f"+CLIP: {self.general.clip},{1 if self.registered else 2}")

    def cmd_CLIP_write(self, m: Match) -> None:
        self.general.clip = m.values.get("n", 0)
        self.ok()

    def cmd_CRC_read(self, m: Match) -> None:
        self._text(f"+CRC: {self.general.crc}")

    def cmd_CRC_write(self, m: Match) -> None:
        self.general.crc = m.values.get("mode", 0)
        self.ok()

    def cmd_CVHU_read(self, m: Match) -> None:
        self._text(f"+CVHU: {self.general.cvhu}")

    def cmd_CVHU_write(self, m: Match) -> None:
        self.general.cvhu = m.values.get("mode", 0)
        self.ok()

    # -- profile (V.250 §6.1.1-6.1.2; AT&W) -----------------------------------------
    def load_profile(self) -> None:
        """Settings from the stored profile (power-on, ATZ), else factory defaults."""
        self.reset_settings()
        for k, v in (self.profile or {}).items():
            setattr(self, k, v)

    def cmd_W_write(self, m: Match) -> None:
        self.profile = {k: getattr(self, k) for k in PROFILE_KEYS}
        self.ok()

    def cmd_Z_write(self, m: Match) -> None:
        self.load_profile()
        self.ok()

    def cmd_F_write(self, m: Match) -> None:
        self.reset_settings()
        self.ok()
