"""A modem pool on one host (issue 14 §1): ``pytest --pool pool.yaml``.

``pool.yaml`` lists the modems; each pytest-xdist worker owns one for the whole run
(``fixtures/parallel.py``) and runs that modem's family's suite against it, as
``pytest --port PORT --model MODEL --ixit IXIT --ics ICS`` would::

    modems:
      - name: bg96-rack1-a          # unique; its report goes to reports/<name>/
        model: bg96
        port: /dev/serial/by-id/usb-Quectel_BG96-if02-port0    # or "emulator"
        baud: 115200                # optional
        ixit: lab/bg96-a.ixit.yaml  # optional
        ics: lab/bg96.ics.yaml      # optional
        power: {off: "uhubctl -a off -p 2", on: "uhubctl -a on -p 2", port: "/dev/ttyUSB*"}
      - name: gv500-rack1
        model: queclink_gv500
        port: emulator              # the built-in emulator (self-tests, dry runs)
      - name: bg96-rack2-b
        model: bg96
        place: rack2-bg96-b         # a labgrid place (coordinator: --lg-coordinator / $LG_COORDINATOR)

``power`` (optional) replaces the IXIT's ``power`` for that modem. ``waivers`` (files) add
to ``--waivers`` for that modem's report; ``gate`` (a file) replaces ``--gate`` for it. A
gate is judged on each modem's own report, never on the run's mixed one, and a breach
names its modem. A ``place`` is acquired
by the worker that owns the modem, its port and power driver used, and released at the
end of the run (``fixtures/lab.py``). Results: one compliance
report per modem (``reports/<name>/compliance.{json,html}``) and a summary page across
the pool (``reports/pool.{json,html}``, :func:`write_summary`).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atconform import families
from atconform.ixit import Power

EMULATOR = "emulator"


class PoolModem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    model: str
    port: str = EMULATOR
    baud: int = 115200
    ixit: str | None = None
    ics: str | None = None
    power: Power | None = None
    place: str | None = None    # a labgrid place instead of port: acquired by the worker for the run
    waivers: list[str] = Field(default_factory=list)    # this modem's waiver files, beside --waivers
    gate: str | None = None     # this modem's quality gate (else --gate), judged on its own report

    @model_validator(mode="after")
    def _port_or_place(self) -> "PoolModem":
        if self.place and self.port != EMULATOR:
            raise ValueError("a modem has a port or a labgrid place, not both")
        if self.place and self.power:
            raise ValueError("a labgrid place brings its own power driver: no 'power' with 'place'")
        return self

    @field_validator("power", mode="before")
    @classmethod
    def _power_keys(cls, v):
        # YAML 1.1 reads unquoted on/off keys as true/false
        if isinstance(v, dict):
            return {({True: "on", False: "off"}.get(k, k) if isinstance(k, bool) else k): x for k, x in v.items()}
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", v):
            raise ValueError("a name of letters, digits, '.', '_', '-' (it names the report folder)")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v not in families.models():
            raise ValueError(f"unknown model (one of: {', '.join(families.models())})")
        return v

    @property
    def emulated(self) -> bool:
        return self.port == EMULATOR and not self.place


class Pool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modems: list[PoolModem] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Pool":
        names = [m.name for m in self.modems]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"modem names must be unique: {', '.join(dup)}")
        places = [m.place for m in self.modems if m.place]
        dup = sorted({p for p in places if places.count(p) > 1})
        if dup:
            raise ValueError(f"a labgrid place belongs to one modem: {', '.join(dup)}")
        ports = [m.port for m in self.modems if not m.emulated and not m.place]
        dup = sorted({p for p in ports if ports.count(p) > 1})
        if dup:
            raise ValueError(f"a port belongs to one modem: {', '.join(dup)}")
        return self


def load_pool(path: str | Path) -> Pool:
    """The pool file, validated; BadInput names the file, the field and why."""
    from atconform.errors import load_yaml_model
    return load_yaml_model(path, Pool)


def summary(pool: Pool, reports: Path, gates: dict[str, str] | None = None) -> dict:
    """One row per modem from its ``reports/<name>/compliance.json``; ``gates``: modem name
    -> its gate's outcome ("passed", "FAILED (n)"), absent where no gate applies."""
    rows = []
    for m in pool.modems:
        path = reports / m.name / "compliance.json"
        try:
            rep = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rep = None
        fw = {}
        for fam in (rep or {}).get("families", []):
            if fam.get("model") == m.model:
                fw = fam.get("firmware") or {}
        rows.append({"name": m.name, "model": m.model, "port": f"labgrid place {m.place}" if m.place else m.port,
                     "report": f"{m.name}/compliance.html" if rep else None,
                     "complete": bool(rep and rep.get("complete")),
                     "total": (rep or {}).get("total", 0), "counts": (rep or {}).get("counts", {}),
                     "workers": sorted({r.get("worker") for r in (rep or {}).get("runs", []) if r.get("worker")}),
                     "firmware": fw, **({"gate": gates[m.name]} if gates and m.name in gates else {})})
    return {"schema": "atconform.pool/1", "modems": rows,
            "complete": all(r["complete"] for r in rows)}


def write_summary(pool: Pool, reports: Path, gates: dict[str, str] | None = None) -> dict:
    """``reports/pool.json`` and ``reports/pool.html``: the pool at a glance."""
    s = summary(pool, reports, gates)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "pool.json").write_text(json.dumps(s, indent=2) + "\n", encoding="utf-8")
    verdicts = [v for v in ("pass", "fail", "fail (waived)", "inconclusive", "error", "not applicable", "skipped")]
    e = html.escape
    head = "".join(f"<th>{e(v)}</th>" for v in verdicts)
    rows = []
    for r in s["modems"]:
        name = f'<a href="{e(r["report"])}">{e(r["name"])}</a>' if r["report"] else e(r["name"])
        fw = "; ".join(f"{e(k)}: {e(str(v))}" for k, v in r["firmware"].items())
        cells = "".join(f"<td>{int(r['counts'].get(v, 0))}</td>" for v in verdicts)
        rows.append(f"<tr><td>{name}</td><td>{e(r['model'])}</td><td>{e(r['port'])}</td><td>{fw}</td>"
                    f"<td>{'yes' if r['complete'] else '<b>no</b>'}</td><td>{e(r.get('gate', '—'))}</td>"
                    f"<td>{int(r['total'])}</td>{cells}</tr>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>atconform pool</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}"
            "table{border-collapse:collapse}</style></head><body>"
            f"<h1>Modem pool: {len(s['modems'])} modems, {'complete' if s['complete'] else 'INCOMPLETE'}</h1>"
            "<table><tr><th>modem</th><th>model</th><th>port</th><th>firmware</th><th>complete</th><th>gate</th>"
            f"<th>purposes</th>{head}</tr>{''.join(rows)}</table></body></html>\n")
    (reports / "pool.html").write_text(page, encoding="utf-8")
    return s
