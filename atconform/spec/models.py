"""Pydantic v2 models of a modem family's AT command set.

One YAML file per family (``specs/<model>.yaml``) validates against :class:`Family`.
The same objects drive the command-line builder, the response parser, the emulator and
the test-case generator, so a range changed in the YAML moves all four.

Templates
---------
Command syntaxes, response lines and URCs are written as templates close to the
manuals' own notation:

* ``<name>``     a field, typed by the parameter ``name`` of the command (or of the URC);
* ``(<name>)``   the list of supported values of ``name`` as a test command prints it,
                 e.g. ``(1-16)`` or ``(0,1)``;
* ``[ ... ]``    an optional part; parts nest;
* anything else is literal text.

In test-command responses a bare ``<name>`` is literal text: modems print it as such
(``+QICSGP: (1-16),(1-3),<APN>,...``). See :mod:`atconform.spec.template`.
"""
from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Source(_Model):
    """Where a definition comes from: document (seed file name) and section number."""

    document: str
    section: str
    page: str | None = None

    def __str__(self) -> str:
        return f"{self.document} §{self.section}"


class ParamType(str, enum.Enum):
    integer = "integer"
    string = "string"
    enum = "enum"          # a closed set of values; numeric or quoted string per ``quoted``
    ipv4 = "ipv4"
    ipv6 = "ipv6"
    ip = "ip"              # IPv4 or IPv6
    host = "host"          # domain name or dotted IP address
    port = "port"          # integer 0-65535 unless ``range`` narrows it
    hex = "hex"            # string of hex digit pairs
    time = "time"          # quoted date/time string, e.g. "YYYY/MM/DD,hh:mm:ss+zz"
    raw = "raw"            # free text up to the next delimiter (error descriptions)
    # Queclink AT@ fields (seed 000), unquoted:
    port_pair = "port_pair"    # "<port>" or "<port>|<port>" (Server Port|Local Port), each in ``range``
    hexdigits = "hexdigits"    # upper-case hex digits '0'-'9', 'A'-'F'; count by min/max_length
    digits = "digits"          # decimal digits '0'-'9' (a unit id); count by min/max_length
    timestamp = "timestamp"    # YYYYMMDDHHMMSS, a valid date and time


class EnumValue(_Model):
    value: int | str
    meaning: str


class Range(_Model):
    """Inclusive integer range."""

    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.min > self.max:
            raise ValueError(f"range min {self.min} > max {self.max}")
        return self

    def __contains__(self, v: int) -> bool:
        return self.min <= v <= self.max


class Parameter(_Model):
    """One ``<parameter>`` of the manual's parameter table.

    ``range`` is inclusive; ``unit`` is the manual's (second, byte, 100ms, ms).
    ``quoted`` says whether the value is written between double quotes on the
    command line and in responses. ``max_length`` counts characters of the value
    itself (for ``hex``: hex digits).
    """

    name: str
    type: ParamType
    description: str = ""
    range: Range | None = None
    # the range a test command prints, where the manual's test response differs from its
    # parameter table (the case generator expects this one for TEST cases)
    test_range: Range | None = None
    values: list[EnumValue] = Field(default_factory=list)
    default: int | str | None = None
    optional: bool = False
    min_length: int | None = None
    max_length: int | None = None
    unit: str | None = None
    quoted: bool | None = None
    secret: bool = False          # redacted in transcripts (APN passwords)
    notes: str | None = None
    # seconds per unit of the value, where the value is a time: 0.1 for the manual's
    # "<min_TO> ... Default: 5*100ms" (value 5), 0.001 for milliseconds, 1 for seconds
    scale: float | None = Field(None, gt=0)

    def seconds(self, value: int | float) -> float:
        """``value`` of this time parameter in seconds (``value * scale``). Raises
        ValueError when the parameter has no ``scale``."""
        if self.scale is None:
            raise ValueError(f"<{self.name}> is not a time (no scale)")
        return value * self.scale

    @model_validator(mode="after")
    def _consistent(self) -> "Parameter":
        if self.quoted is None:
            self.quoted = self.type in (
                ParamType.string, ParamType.ipv4, ParamType.ipv6, ParamType.ip,
                ParamType.host, ParamType.hex, ParamType.time,
            ) or (self.type is ParamType.enum and any(isinstance(v.value, str) for v in self.values))
        if self.type in (ParamType.port, ParamType.port_pair) and self.range is None:
            self.range = Range(min=0, max=65535)
        if self.type is ParamType.enum and not self.values:
            raise ValueError(f"enum parameter <{self.name}> has no values")
        if self.default is not None and not self.accepts(self.default):
            raise ValueError(f"default {self.default!r} of <{self.name}> is outside its own domain")
        return self

    # -- domain -------------------------------------------------------------------
    @property
    def is_numeric(self) -> bool:
        if self.type in (ParamType.integer, ParamType.port):
            return True
        return self.type is ParamType.enum and all(isinstance(v.value, int) for v in self.values)

    def supported_values(self) -> "list[int | str] | range | None":
        """The values a test command reports: a list for enums, a ``range`` for ranges
        (lazy: some span 2**32), None for strings."""
        if self.type is ParamType.port_pair:
            return None          # a string of one or two ranged parts, not one integer
        if self.values:
            return [v.value for v in self.values]
        if self.range is not None:
            return range(self.range.min, self.range.max + 1)
        return None

    def accepts(self, value: Any) -> bool:
        """True when ``value`` (already typed) is inside the parameter's domain."""
        from atconform.spec.values import check_value  # local: values imports models

        return check_value(self, value) is None


class ResultCode(_Model):
    """A final or intermediate result code: verbose text and ATV0 numeric code."""

    text: str
    numeric: int | None = None
    kind: Literal["ok", "error", "cme_error", "cms_error", "connect", "no_carrier",
                  "send_ok", "send_fail", "intermediate", "other"] = "other"
    final: bool = True
    prefix: bool = False          # text is a prefix followed by a value (+CME ERROR: <n>)
    description: str = ""


class ErrorCode(_Model):
    code: int
    text: str


class ErrorTable(_Model):
    """A table of error codes, e.g. BG96 chapter 4 (550-574), or Fibocom's CME/CMS/TCP-IP."""

    name: str
    reported_as: str = Field(description="how the code reaches the DTE, e.g. '+QIGETERROR', '<err> in URC', '+CME ERROR'")
    source: Source
    codes: list[ErrorCode]
    # the prefix result code that carries this table's codes ("+CME ERROR: "): tables
    # whose numbers overlap (27.007 CME and 27.005 CMS) are told apart by it
    result: str | None = None

    def text_of(self, code: int) -> str | None:
        for c in self.codes:
            if c.code == code:
                return c.text
        return None


class DataPayload(_Model):
    """Raw bytes that follow a line: ``length_field`` of that line gives their count.
    ``separator`` "" glues the header to its data (``IPD30TCP:<data>``, GSM note §5.3.1): the
    header is no line of its own, the framer finds it at the start of a line and takes the
    data right after its last character."""

    length_field: str
    separator: str = "\r\n"


class ResponseLine(_Model):
    """A line of information text, a URC or an intermediate result, as a template."""

    template: str
    name: str | None = None
    repeat: bool = False          # may occur 0..n times (lists such as +QIACT?)
    optional: bool = False
    payload: DataPayload | None = None
    condition: str | None = None  # manual's words on when this line appears
    # fields that must repeat the command line's value of the same name (a Queclink
    # reply's <seq>): the checker compares them with the request
    echoes: list[str] = Field(default_factory=list)
    # module settings (Family.settings) under which this line is the one printed; empty: any
    settings: dict[str, Any] = Field(default_factory=dict)


class FollowLine(_Model):
    """A line that follows the variant's success final result code and belongs to the
    command (GSM note: OK, then ``CONNECT OK``; OK, then ``STATE: IP INITIAL``).

    ``alternatives``: the lines that may come here, one of them (those whose ``settings``
    do not hold are left out); one marked ``repeat`` may come one or more times, and then
    lines of it that keep coming are the command's too. ``count``: exactly that many lines
    (six ``+QISTATE:``). ``max_time``: seconds after the previous line (the final for the
    first) within which it must come. ``data_mode_entry``: the text of the alternative
    that enters transparent data mode (``CONNECT``, V.250 §6.3.1 online data state)."""

    name: str | None = None
    alternatives: list[ResponseLine]
    count: int | None = Field(None, ge=1)
    max_time: float = Field(60.0, gt=0)
    data_mode_entry: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _entry_is_an_alternative(self) -> "FollowLine":
        if not self.alternatives:
            raise ValueError("a follow line needs at least one alternative")
        if self.data_mode_entry is not None and self.data_mode_entry not in [a.template for a in self.alternatives]:
            raise ValueError(f"data_mode_entry {self.data_mode_entry!r} is not one of the alternatives")
        return self


class Variant(_Model):
    """One syntax of a form, e.g. ``AT+QISEND=<connectID>,<send_length>``.

    ``syntax`` is the parameter template after ``=`` (write) or empty. ``data`` says the
    command continues with a ``>`` prompt and payload: ``fixed`` (length given by a
    parameter), ``ctrl_z`` (terminated by 0x1A, ESC cancels).

    ``data_mode_entry`` names the result code of ``final`` (``CONNECT``) with which this
    variant enters transparent data mode (V.250 §6.3.1: online data state after
    CONNECT). Only such a CONNECT switches the DTE's framer to data; a CONNECT of any
    other command (an AT+QFUPL-style fixed-size upload that returns to command mode by
    itself) is an intermediate result code and the command stays pending.
    """

    name: str = "default"
    syntax: str = ""
    description: str = ""
    responses: list[ResponseLine] = Field(default_factory=list)
    final: list[str] = Field(default_factory=lambda: ["OK", "ERROR"])
    data: Literal["fixed", "ctrl_z", "timer"] | None = None
    data_length: str | None = None          # parameter that gives the payload length
    data_mode_entry: str | None = None      # the final (CONNECT) that enters data mode
    max_response_time: float | None = None  # seconds; overrides the command's
    when: dict[str, Any] = Field(default_factory=dict)  # parameter values that select this variant
    # module settings (Family.settings name -> value, or a list of values) under which this
    # variant is the command's reading (GSM AT+QISEND=<n>: a length with QIMUX=0, an index
    # with QIMUX=1); empty: any. A DCE or DTE that knows the settings skips the others.
    settings: dict[str, Any] = Field(default_factory=dict)
    # lines after the success final result code that belong to the command (FollowLine)
    follow: list[FollowLine] = Field(default_factory=list)
    # the parameter whose value an index-prefixed final result code repeats ("0, CLOSE OK"
    # for AT+QICLOSE=0; Framing.result_index_prefix)
    result_index: str | None = None
    casegen: "CaseHints | None" = None

    @model_validator(mode="after")
    def _entry_is_a_final(self) -> "Variant":
        if self.data_mode_entry is not None and self.data_mode_entry not in self.final:
            raise ValueError(f"data_mode_entry {self.data_mode_entry!r} is not one of final {self.final}")
        return self

    # Two-stage answers (Fibocom HEX-mode AT+MIPSEND, 004 §1.2.1: OK, +MIPPUSH, +MIPSEND, OK):
    # the number of success final result codes that end the command; every one before the
    # last closes a stage and the command stays pending (an error result ends it at once)
    stages: int = Field(1, ge=1)
    # what the DTE types after the prompt: "raw" bytes, or "hex" (two hex digits a byte;
    # a fixed ``data_length`` then counts bytes, 2n characters are typed)
    data_encoding: Literal["raw", "hex"] = "raw"
    # data: timer -- the input ends when the module setting (Family.settings) of this name,
    # a time in seconds, has passed since the prompt; Ctrl-Z also ends it
    data_timer: str | None = None
    attributes: "Attributes | None" = None      # the variant's own attribute table


class FormKind(str, enum.Enum):
    test = "test"
    read = "read"
    write = "write"
    execute = "execute"


class Form(_Model):
    kind: FormKind
    variants: list[Variant]
    source: Source | None = None

    @field_validator("variants")
    @classmethod
    def _non_empty(cls, v: list[Variant]) -> list[Variant]:
        if not v:
            raise ValueError("a form needs at least one variant")
        return v


class CaseHints(_Model):
    """Hints for the test-case generator (casegen).

    ``base``: values for the parameters a case does not vary; strings may name IXIT
    keys as ``{ixit.key}`` or ``{peer.tcp_echo.port}``. ``preconditions``/``cleanup``:
    names of fixtures/steps (``context_active``, ``socket_open``...). ``vary``: which
    parameters get boundary cases (default: all with a finite domain). ``skip``:
    reason to not generate write cases at all.
    """

    base: dict[str, Any] = Field(default_factory=dict)
    preconditions: list[str] = Field(default_factory=list)
    cleanup: list[str] = Field(default_factory=list)
    vary: list[str] | None = None
    fixed: list[str] = Field(default_factory=list)  # never varied (state-bound ids)
    expect_urc: str | None = None           # URC name that must follow a successful write
    skip: str | None = None
    emulator_only: str | None = None        # reason a case only makes sense on the emulator
    # Opt-in extras (Queclink AT@, seed 000):
    # ``lengths``: string-like parameters that also get length cases: a valid value of
    # min_length and of max_length succeeds, one of min_length-1 is rejected ("too-short")
    lengths: list[str] = Field(default_factory=list)
    # ``examples``: parameter -> {label: value}, more valid values to try (an IPv6 address)
    examples: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # ``refused``: parameter -> {label: value}, values the syntax allows but the DCE must
    # refuse because they differ from its state (a wrong password); rejected like bad input
    refused: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # ``bad_lines_use_base``: bad-input lines carry ``base`` values (placeholders left for
    # the executor to resolve, e.g. the device password) in the fields not under test,
    # so the field under test is the only thing wrong with them
    bad_lines_use_base: bool = False
    # ``unterminated``: one more bad input, a valid line sent without its terminator
    unterminated: bool = False


class Attributes(_Model):
    """A command's attribute table (Fibocom 004, each command's "Attributes": Pin
    Restricted, Persistent, Sync Mode, Effect Immediately, Time of duration).

    ``sync_mode`` False: the command's result follows its final OK (``Variant.follow``);
    ``persistent``: its settings survive a power cycle; ``survives_pdp_deactivation``:
    they survive the link going down (the manual's prose, not the table);
    ``time_of_duration``: seconds, the table's "< 1s" as 1.0, used as the maximum
    response time of the final result code when the command gives none; ``line``: the
    table's line in the source document."""

    pin_restricted: bool | None = None
    persistent: bool | None = None
    sync_mode: bool | None = None
    effect_immediately: bool | None = None
    time_of_duration: float | None = Field(None, gt=0)
    survives_pdp_deactivation: bool | None = None
    line: int | None = None
    notes: str | None = None


class Constraint(_Model):
    """A cross-parameter rule the manual's text states (not its syntax table).

    While the line's values match ``when`` (parameter -> value, or a list of values any
    of which), every parameter of ``requires`` must be given and none of ``forbids``;
    a line that breaks it is invalid under the spec (the command-line matcher rejects it,
    the generator makes bad-input cases from it). ``state``: a precondition step
    (``data_buffered:{socket_id}``) under which the DCE refuses the command, answering
    with ``refused_with`` (information-text field -> value, e.g. MIPSETS <status> 3) or,
    when that is empty, an error result. ``effect``: a rule on what the command does,
    which the scenario suites check (nothing generated). ``quote``/``line``: the
    manual's words and their line."""

    name: str
    when: dict[str, Any] = Field(default_factory=dict)
    requires: list[str] = Field(default_factory=list)
    forbids: list[str] = Field(default_factory=list)
    state: str | None = None
    refused_with: dict[str, Any] = Field(default_factory=dict)
    effect: str | None = None
    quote: str
    line: int | None = None

    def applies(self, values: dict[str, Any]) -> bool:
        """``values`` (a line's typed values) bring this rule into force."""
        for k, want in self.when.items():
            got = values.get(k)
            if got not in (want if isinstance(want, list) else [want]):
                return False
        return True

    def broken_by(self, values: dict[str, Any]) -> str | None:
        """Why ``values`` break the rule's ``requires``/``forbids``, or None."""
        if not (self.requires or self.forbids) or not self.applies(values):
            return None
        missing = [p for p in self.requires if values.get(p) is None]
        extra = [p for p in self.forbids if values.get(p) is not None]
        if missing:
            return f"rule {self.name}: " + ", ".join(f"<{p}>" for p in missing) + f" required ({self.quote})"
        if extra:
            return f"rule {self.name}: " + ", ".join(f"<{p}>" for p in extra) + f" not allowed ({self.quote})"
        return None


class Command(_Model):
    """An AT command: ``name`` as written after ``AT`` (``+QIOPEN``, ``E``, ``I``)."""

    name: str
    title: str
    source: Source
    # extended: AT+NAME=...; basic: V.250 basic syntax, value glued to the name (ATE0);
    # escape: not a command line but an escape sequence with guard times (+++)
    syntax: Literal["extended", "basic", "escape"] = "extended"
    parameters: list[Parameter] = Field(default_factory=list)
    forms: list[Form]
    max_response_time: float | None = None  # seconds; None: family default
    urcs: list[str] = Field(default_factory=list)  # URC names this command may cause
    casegen: CaseHints = Field(default_factory=CaseHints)
    notes: str | None = None
    tcpip: bool = True                      # QIGETERROR reports its errors
    mandatory: bool = True                  # ICS: a conforming module must support it
    attributes: Attributes | None = None    # the manual's attribute table (Fibocom)
    constraints: list[Constraint] = Field(default_factory=list)  # cross-parameter rules

    def param(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"{self.name}: no parameter <{name}>")

    def form(self, kind: FormKind | str) -> Form | None:
        kind = FormKind(kind)
        for f in self.forms:
            if f.kind is kind:
                return f
        return None

    @property
    def at_name(self) -> str:
        """The name as a user writes it: ``AT+QIOPEN``, ``ATE``, ``AT``, ``+++``."""
        return self.name if self.syntax == "escape" else "AT" + self.name

    @property
    def key(self) -> str:
        """Name for test purpose ids: QIOPEN, CPIN, E; ``AT`` for the bare AT command,
        ``ESCAPE`` for +++."""
        if self.syntax == "escape":
            return "ESCAPE"
        return self.name.lstrip("+&@") or "AT"


class Urc(_Model):
    """An unsolicited result code, matched by ``template``.

    ``settings``: the module settings under which the DCE sends it in this shape (GSM
    ``+RECEIVE:`` with QIMUX=1 only); empty: any. ``data_mode_entry``: after it the DCE is
    in transparent data mode (GSM ``CONNECT`` after ``REMOTE IP:`` in transparent mode).
    ``ends_data_mode``: framed by S3 S4 in data mode it means the DCE has gone back to
    command mode by itself (GSM ``CLOSED``, ``+PDP DEACT``; the remote may send the same
    bytes as data, GSM note §6.3)."""

    name: str
    template: str
    source: Source
    parameters: list[Parameter] = Field(default_factory=list)
    payload: DataPayload | None = None
    description: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    data_mode_entry: bool = False
    ends_data_mode: bool = False

    def param(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"URC {self.name}: no parameter <{name}>")


class Framing(_Model):
    """How command lines and responses are delimited (V.250 §5.2-5.7 for AT families).

    ``style``: ``v250`` (AT, S3 terminates, responses framed by S3 S4) or ``delimited``
    (Queclink ``AT@CMD=...$``, replies ``+ACK:...$``). Each style's framer implements only some
    fields; a spec that sets one its framer ignores fails to load, naming the field
    (:func:`atconform.protocol.delimited.unsupported_fields`).
    """

    style: Literal["v250", "delimited"] = "v250"
    prefix: str = "AT"
    s3: str = "\r"
    s4: str = "\n"
    terminator: str = "\r"                 # what the DTE appends to a command line
    echo_default: bool = True
    verbose_default: bool = True
    prompt: str = "> "
    ctrl_z: str = "\x1a"
    escape: str = "\x1b"
    escape_sequence: str = "+++"
    escape_guard_time: float = 1.0         # seconds of silence before and after +++
    # longest gap (seconds) between the characters of the escape sequence; None: the guard
    # time (GSM note §4: "the interval time between each '+' MUST be less than 20 ms")
    escape_max_gap: float | None = None
    urc_prefixes: list[str] = Field(default_factory=list)
    quoted_prefix_urcs: bool = False
    result_index_prefix: bool = False      # GSM QIMUX=1: "0, CONNECT OK"
    # Longest line (bytes, without S3/S4) either side takes: a DCE line beyond it is a
    # finding for the DTE, and a command line beyond it gets ERROR from the emulated DCE
    # (V.250 §5.2.1 leaves the body's maximum to the DCE, at least 40 characters). 4096
    # is the documented default where a manual gives none: above BG96's longest command
    # line (AT+QISENDEX with 512 hex digits) and any information text line it prints.
    max_line_length: int = Field(4096, ge=40)
    # delimited: the words that start a DCE frame (``+ACK``, ``+QRY``); a frame runs from
    # "<word>:" to ``terminator``, with or without s3/s4 around it
    reply_words: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _implemented(self) -> "Framing":
        from atconform.protocol.delimited import unsupported_fields  # local: it imports us
        bad = unsupported_fields(self)
        if bad:
            raise ValueError("; ".join(bad))
        return self


class Declaration(_Model):
    """An ICS/IXIT declaration: an outcome the manual leaves open, with the value this
    spec assumes and why. A lab states its modem's own value in the IXIT (``ics:``
    name -> value), which must be one of ``choices`` when they are given. Verdicts that
    depend on it say so; it is never presented as the manual's word."""

    name: str
    value: str | int | float | bool | None
    choices: list[str | int | float | bool] = Field(default_factory=list)
    unit: str | None = None
    description: str
    reading: str = ""          # why this value: the seed's lines, or "not in the seed"

    @model_validator(mode="after")
    def _in_choices(self) -> "Declaration":
        if self.choices and self.value not in self.choices:
            raise ValueError(f"declaration {self.name}: {self.value!r} is not one of {self.choices}")
        return self


class Timing(_Model):
    """Maximum response times (seconds) not bound to one command."""

    default_max_response_time: float = 60.0
    source: Source | None = None


class FlowChartRule(_Model):
    """One number of the vendor's usage flow chart (BG96 Figure 1), with the figure's
    words it comes from. The host recovery policy reads every number from here."""

    name: str
    value: float | int | list[float]
    unit: str
    quote: str
    notes: str | None = None


class Setting(_Model):
    """A module setting that selects variants, response lines and URCs (GSM AT+QIMUX):
    the value of parameter ``parameter`` of ``command``'s write form, taken when the
    command ends with a success result code; ``default`` at power-on. ``per``: another
    setting whose value keeps a copy of this one each (GSM: AT+QIMUX per foreground
    context, AT+QIFGCNT)."""

    name: str
    command: str
    parameter: str
    default: int | str
    per: str | None = None
    source: Source | None = None
    notes: str | None = None


class State(_Model):
    """One state of a :class:`StateMachine`: ``name`` as the DCE prints it, ``number``
    as the manual's figure numbers it."""

    name: str
    number: int | None = None
    meaning: str = ""


class Transition(_Model):
    """``event`` moves the machine from any state of ``source`` (``"*"``: every state) to
    ``target`` (``"="``: stays). Events are command names as the spec writes them
    (``+QIACT``; ``+CGATT=0`` for one value) or a word for what the network or the stack
    does (``activated``, ``connected``, ``closed``, ``pdp deact``)."""

    source: list[str]
    event: str
    target: str
    notes: str = ""


class StateMachine(_Model):
    """A state machine of the DCE as data (GSM note Figures 3-4). ``settings``: under
    which module settings it is the one in force; ``allows``: command -> the states in
    which the DCE accepts it (others: an error result); commands not named are accepted
    in every state. :meth:`next` is the whole transition function."""

    name: str
    source: Source
    settings: dict[str, Any] = Field(default_factory=dict)
    initial: str
    states: list[State]
    transitions: list[Transition]
    allows: dict[str, list[str]] = Field(default_factory=dict)
    notes: str | None = None

    @model_validator(mode="after")
    def _states_exist(self) -> "StateMachine":
        names = {s.name for s in self.states}
        if len(names) != len(self.states):
            raise ValueError(f"state machine {self.name}: duplicate state names")
        bad = [n for t in self.transitions for n in (*t.source, t.target) if n not in names | {"*", "="}]
        bad += [n for ss in self.allows.values() for n in ss if n not in names]
        if self.initial not in names:
            bad.append(self.initial)
        if bad:
            raise ValueError(f"state machine {self.name}: unknown states {sorted(set(bad))}")
        return self

    def next(self, state: str, event: str) -> str | None:
        """The state ``event`` leads to from ``state``, or None when no transition takes it."""
        for t in self.transitions:
            if t.event == event and (state in t.source or "*" in t.source):
                return state if t.target == "=" else t.target
        return None

    def allowed(self, command: str, state: str) -> bool:
        """Whether ``command`` is accepted in ``state``."""
        states = self.allows.get(command)
        return states is None or state in states


class UnframedData(_Model):
    """Received data the DCE writes with no header and no line end (Fibocom
    AT+GTSET="IPRFMT",1): under ``settings`` (Family.settings values) a run of bytes that
    starts where no line starts (no S3 S4 header before it) is data, up to the next S3."""

    settings: dict[str, Any]
    notes: str | None = None


class Family(_Model):
    """A modem family's whole spec: framing, result codes, commands, URCs, error tables."""

    model: str                              # bg96, quectel_gsm, fibocom_l610, queclink_gv500
    title: str
    vendor: str
    documents: dict[str, str] = Field(default_factory=dict)  # seed file -> title
    framing: Framing = Field(default_factory=Framing)
    result_codes: list[ResultCode]
    commands: list[Command] = Field(default_factory=list)
    urcs: list[Urc] = Field(default_factory=list)
    error_tables: list[ErrorTable] = Field(default_factory=list)
    timing: Timing = Field(default_factory=Timing)
    state_strings: dict[str, list[str]] = Field(default_factory=dict)  # GSM: STATE: IP INITIAL...
    settings: list[Setting] = Field(default_factory=list)
    state_machines: list[StateMachine] = Field(default_factory=list)
    flow_chart: list[FlowChartRule] = Field(default_factory=list)
    ics: list[Declaration] = Field(default_factory=list)
    notes: str | None = None
    unframed_data: UnframedData | None = None    # data with no header (Fibocom IPRFMT 1)

    @model_validator(mode="after")
    def _framer_can_read_it(self) -> "Family":
        from atconform.protocol.delimited import unsupported_elements  # local: it imports us
        bad = unsupported_elements(self)
        if bad:
            raise ValueError("; ".join(bad))
        return self

    def declaration(self, name: str) -> Declaration:
        for d in self.ics:
            if d.name == name:
                return d
        raise KeyError(f"{self.model}: no ICS declaration {name}")

    def declared(self, name: str, overrides: dict[str, Any] | None = None) -> Any:
        """The value of ICS declaration ``name``: the IXIT's (``overrides``) when it
        gives one, else the spec's. Raises KeyError for an undeclared name, ValueError
        when the IXIT's value is not one of the declaration's choices."""
        d = self.declaration(name)
        if overrides and name in overrides:
            v = overrides[name]
            if d.choices and v not in d.choices:
                raise ValueError(f"IXIT ics.{name}: {v!r} is not one of {d.choices}")
            return v
        return d.value

    @model_validator(mode="after")
    def _unique(self) -> "Family":
        names = [c.name for c in self.commands]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate commands: {sorted(dup)}")
        urcs = [u.name for u in self.urcs]
        dup = {n for n in urcs if urcs.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate URCs: {sorted(dup)}")
        return self

    def command(self, name: str) -> Command:
        for c in self.commands:
            if c.name == name or c.key == name.lstrip("+"):
                return c
        raise KeyError(f"{self.model}: no command {name}")

    def urc(self, name: str) -> Urc:
        for u in self.urcs:
            if u.name == name:
                return u
        raise KeyError(f"{self.model}: no URC {name}")

    def result_code(self, text: str) -> ResultCode | None:
        for r in self.result_codes:
            if r.text == text:
                return r
        return None

    def error_tables_of(self, result: str) -> list[ErrorTable]:
        """The error tables whose codes ``result`` (a prefix result code text such as
        ``"+CME ERROR: "``) carries (``ErrorTable.result``); empty when no table says."""
        return [t for t in self.error_tables if t.result == result]

    def error_entry(self, result: str, code: int | str) -> ErrorCode | None:
        """The code ``code`` (a number, or the verbose text of AT+CMEE=2) looked up in
        the tables ``result`` carries only, so a CMS number never reads as a CME one."""
        for t in self.error_tables_of(result):
            for c in t.codes:
                if c.code == code or (isinstance(code, str) and c.text.lower() == code.strip().lower()):
                    return c
        return None

    def max_response_time(self, command: Command, variant: Variant | None = None) -> float:
        """Seconds the DCE may take for the final result code (manual's value, else the
        family default, which for BG96 is Figure 1 note 1: 60 s)."""
        if variant is not None and variant.max_response_time is not None:
            return variant.max_response_time
        if command.max_response_time is not None:
            return command.max_response_time
        for a in (variant.attributes if variant is not None else None, command.attributes):
            if a is not None and a.time_of_duration is not None:
                return a.time_of_duration     # the attribute table's "Time of duration"
        return self.timing.default_max_response_time

    def error_text(self, code: int) -> str | None:
        for t in self.error_tables:
            txt = t.text_of(code)
            if txt is not None:
                return txt
        return None

    def setting(self, name: str) -> Setting:
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(f"{self.model}: no setting {name}")

    def state_machine(self, name: str) -> StateMachine:
        for m in self.state_machines:
            if m.name == name:
                return m
        raise KeyError(f"{self.model}: no state machine {name}")

    @model_validator(mode="after")
    def _settings_resolve(self) -> "Family":
        names = {s.name for s in self.settings}
        for s in self.settings:
            if s.per is not None and s.per not in names:
                raise ValueError(f"setting {s.name}: per {s.per!r} is not a setting")
        used = [(f"command {c.name} variant {v.name}", v.settings) for c in self.commands for f in c.forms
                for v in f.variants]
        used += [(f"command {c.name} variant {v.name} follow", a.settings) for c in self.commands
                 for f in c.forms for v in f.variants for fl in v.follow for a in fl.alternatives]
        used += [(f"URC {u.name}", u.settings) for u in self.urcs]
        used += [(f"state machine {m.name}", m.settings) for m in self.state_machines]
        for where, d in used:
            bad = set(d) - names
            if bad:
                raise ValueError(f"{where}: unknown settings {sorted(bad)}")
        return self

    def rule(self, name: str) -> FlowChartRule:
        for r in self.flow_chart:
            if r.name == name:
                return r
        raise KeyError(f"{self.model}: no flow chart rule {name}")


Variant.model_rebuild()
