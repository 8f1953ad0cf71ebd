"""``atconform`` command line.

    atconform emulate --model MODEL [--pty | --tcp HOST:PORT] [--dns-port N] [--defects FILE]
                      [--faults FILE]
    atconform emulate --replay DIR [--model MODEL]   serve a recorded run (pytest --record DIR)
    atconform report [results.jsonl] [--out DIR] | --diff OLD NEW
    atconform purposes [--model MODEL]         list generated test purposes (every family by default)
    atconform ics --model MODEL [--out FILE]   write a full ICS from the spec, with comments
    atconform allure [--results DIR] [--report JSON] [--out DIR]   render allure-results with Allure 3
    atconform check TRANSCRIPT --model MODEL [--out DIR]   judge a capture offline (terminal paste,
                      logger dump, the suite's transcripts) -> DIR/compliance.{json,html}

``emulate`` prints ``PTY /dev/pts/N`` (or ``TCP host:port``) as its first stdout line and
serves until SIGINT or SIGTERM (contract in DESIGN.md). It binds loopback only unless
--tcp names another address. With --faults each fault firing is reported on stderr.
Bad input (an option, a --defects or --faults file, the spec, an address that cannot be
bound) is one line on stderr, ``atconform <command>: ...``, and exit status 2.
"""
from __future__ import annotations

import argparse
import re
import signal
import sys

from atconform import families


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT``: loopback; port 0: any free port) -> ``(host, port)``.
    Raises argparse.ArgumentTypeError."""
    host, sep, port = text.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port 0-65535, got {text!r}")
    return host or "127.0.0.1", int(port)


def _spec(model: str):
    """The model's validated spec. Raises BadInput naming the spec file."""
    from atconform.errors import reading
    from atconform.spec import load_family, specs_dir

    with reading(specs_dir() / f"{model}.yaml"):
        return load_family(model)


def _emulate(args: argparse.Namespace) -> int:
    if args.replay:
        from atconform.replay.cli import emulate
        refused = [o for o, given in (("--tcp", args.tcp), ("--defects", args.defects), ("--faults", args.faults)) if given]
        return emulate(args.replay, args.model, refused=refused)
    from atconform.emulator import Emulator
    EMULATED_MODELS = families.emulated()
    from atconform.emulator.dce import Defects
    from atconform.errors import BadInput, load_yaml_model, reading

    def fail(msg: str) -> int:
        print(f"atconform emulate: {msg}", file=sys.stderr)
        return 2

    if args.model not in EMULATED_MODELS:
        return fail(f"no emulator for {args.model} yet (emulated: {', '.join(EMULATED_MODELS)})")
    try:
        family = _spec(args.model)
    except BadInput as e:
        return fail(f"bad spec {e}")
    faults = None
    if args.faults:
        from atconform.emulator.faults import FaultPlan
        try:
            with reading(args.faults):
                faults = FaultPlan.load(args.faults)
            faults.check(family)
        except BadInput as e:
            return fail(f"bad fault plan {e}")
        except ValueError as e:     # check(): a command the spec does not have
            return fail(f"bad fault plan {args.faults}: {e}")
    defects = None
    if args.defects:
        try:
            defects = load_yaml_model(args.defects, Defects)
        except BadInput as e:
            return fail(f"bad defects file {e}")
    tcp = args.tcp
    t0 = []

    def report_fault(ev) -> None:
        print(f"fault +{ev.time - t0[0]:.3f}s {ev.kind}: {ev.what}", file=sys.stderr, flush=True)

    try:
        emu = Emulator(args.model, defects=defects, dns_port=args.dns_port, tcp=tcp, faults=faults,
                       on_fault=report_fault)
    except OSError as e:    # the address is not this host's, the port is taken or privileged
        where = f"cannot listen on {tcp[0]}:{tcp[1]}" if tcp else "cannot open a pty"
        return fail(f"{where}: {e.strerror or e}")
    t0.append(emu.modem.boot_time)          # times relative to the first power-on

    def stop(signum, frame):
        emu.loop._stopping = True

    signal.signal(signal.SIGTERM, stop)     # before the first line: a caller may stop us at once
    signal.signal(signal.SIGINT, stop)
    if faults is not None:
        print(f"atconform emulate: {len(faults.faults)} fault(s) from {args.faults}, seed {faults.seed}",
              file=sys.stderr, flush=True)
    switch = None
    if args.power_http:
        from atconform.emulator.powerswitch import PowerSwitchServer
        try:
            switch = PowerSwitchServer(emu, *args.power_http, log=sys.stderr).start()
        except OSError as e:
            emu.stop()
            return fail(f"cannot listen on {args.power_http[0]}:{args.power_http[1]}: {e.strerror or e}")
    print(f"PTY {emu.path}" if tcp is None else f"TCP {emu.path}", flush=True)
    if switch is not None:
        print(f"POWER {switch.url}", flush=True)
    try:
        emu.serve_forever()
    finally:
        if switch is not None:
            switch.stop()
        emu.stop()
    return 0


def _purposes(args: argparse.Namespace) -> int:
    from atconform.casegen import generate
    from atconform.errors import BadInput

    for model in [args.model] if args.model else families.models():
        try:
            family = _spec(model)
        except BadInput as e:
            print(f"atconform purposes: bad spec {e}", file=sys.stderr)
            return 2
        for p in generate(family):
            print(f"{p.id}\t§{p.section}\t{p.title}")
    return 0


def _ics(args: argparse.Namespace) -> int:
    from atconform.errors import BadInput
    from atconform.ics import default_ics_text

    try:
        family = _spec(args.model)
    except BadInput as e:
        print(f"atconform ics: bad spec {e}", file=sys.stderr)
        return 2
    text = default_ics_text(family)
    if args.out is None or args.out == "-":
        sys.stdout.write(text)
        return 0
    try:
        with open(args.out, "x" if not args.force else "w", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        print(f"atconform ics: {args.out} exists (--force to overwrite)", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"atconform ics: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


def _allure(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from atconform.report.allure import AllureNotFound, expected_statistic, generate

    def fail(msg: str) -> int:
        print(f"atconform allure: {' '.join(str(msg).split())}", file=sys.stderr)
        return 2

    try:
        report = json.loads(Path(args.report).read_text(encoding="utf-8"))
    except OSError as e:
        return fail(f"cannot read {args.report}: {e.strerror or e} (run pytest first)")
    except ValueError as e:
        return fail(f"{args.report}: not a compliance report: {e}")
    try:
        index = generate(args.results, report, args.out, history=args.history, allure=args.allure)
    except (AllureNotFound, FileNotFoundError, RuntimeError) as e:
        return fail(e)
    except OSError as e:
        return fail(f"cannot write {args.out}: {e.strerror or e}")
    stat = expected_statistic(report)
    print(f"wrote {index}")
    print("compliance verdicts as allure statuses: " + ", ".join(f"{k} {v}" for k, v in stat.items()))
    return 0


def _check(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from atconform.check import check_capture
    from atconform.errors import BadInput
    from atconform.report import build_report, write_report_files
    from atconform.report.writer import atomic_write_text

    def fail(msg: str) -> int:
        print(f"atconform check: {' '.join(str(msg).split())}", file=sys.stderr)
        return 2

    try:
        family = _spec(args.model)
    except BadInput as e:
        return fail(f"bad spec {e}")
    try:
        data = Path(args.transcript).read_bytes()
    except OSError as e:
        return fail(f"cannot read {args.transcript}: {e.strerror or e}")
    result = check_capture(family, data)
    for no, why in result.unreadable:
        print(f"{args.transcript}:{no}: {why}", file=sys.stderr)
    if not result.lines:
        return fail(f"{args.transcript}: nothing to check (no line could be read as a capture)")
    records = result.records(family, str(args.transcript))
    report = build_report(records, skipped_lines=len(result.unreadable))
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "results.jsonl", "".join(json.dumps(r) + "\n" for r in records))
        json_path, html_path = write_report_files(report, out)
    except OSError as e:
        return fail(f"cannot write to {out}: {e.strerror or e}")
    for v in result.verdicts:
        if v.verdict in ("fail", "error"):
            print(f"{args.transcript}:{v.no}: {v.verdict}: {v.reason}")
    c = report["counts"]
    print(f"{args.transcript}: {len(result.verdicts)} verdicts: "
          + ", ".join(f"{n} {k}" for k, n in c.items() if n) + f" ({len(result.unreadable)} line(s) not read)")
    print(f"wrote {json_path}")
    print(f"wrote {html_path}")
    return 1 if c.get("fail") or c.get("error") else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        from atconform.report import main_report
        return main_report(argv[1:])
    from atconform.errors import OneLineArgumentParser

    ap = OneLineArgumentParser(prog="atconform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("emulate", help="start a modem emulator on a pty or TCP port")
    e.add_argument("--model", choices=families.models(), help="required unless --replay names a one-model recording")
    g = e.add_mutually_exclusive_group()
    g.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal (default)")
    g.add_argument("--tcp", metavar="HOST:PORT", type=host_port, help="serve the AT link on a TCP port (pyserial socket://)")
    e.add_argument("--dns-port", type=int, default=53, help="UDP port of the DNS servers the emulated network uses (default 53)")
    e.add_argument("--defects", metavar="FILE", help="YAML of planted defects (self-tests)")
    e.add_argument("--power-http", metavar="HOST:PORT", type=host_port,
                   help="a network power switch for the emulated modem (labgrid NetworkPowerPort, model "
                        "simplerest: GET /power/0, /power/1, /power); port 0: a free port, printed as 'POWER URL'")
    e.add_argument("--faults", metavar="FILE",
                   help="YAML fault plan: seeded runtime faults (no answer, errors, SIM/registration delays, "
                        "pdpdeact, hang, reboot); example: atconform/emulator/faults_example.yaml")
    e.add_argument("--replay", metavar="DIR", help="serve a recorded run (pytest --record DIR) on a pty, on real time")
    sub.add_parser("report", help="rebuild reports/compliance.{json,html} from results.jsonl (see atconform report -h)")
    p = sub.add_parser("purposes", help="list the generated test purposes of a model")
    p.add_argument("--model", choices=families.models(), help="one family (default: every family)")
    i = sub.add_parser("ics", help="write a full ICS (implementation conformance statement) from a model's spec")
    i.add_argument("--model", required=True, choices=families.models())
    i.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    i.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    a = sub.add_parser("allure", help="render allure-results as one HTML file with Allure 3 (npm package allure)")
    a.add_argument("--results", default="allure-results", help="allure results folder (default allure-results)")
    a.add_argument("--report", default="reports/compliance.json", help="the run's compliance.json (default reports/)")
    a.add_argument("--out", default="reports/allure", help="output folder (default reports/allure)")
    a.add_argument("--history", default="reports/allure-history.jsonl",
                   help="history file kept across runs for trends (default reports/allure-history.jsonl)")
    a.add_argument("--allure", metavar="CMD", help="the Allure 3 command (default: .allure/, $ATCONFORM_ALLURE, PATH)")
    k = sub.add_parser("check", help="judge a captured AT transcript offline with the spec (see atconform check -h)",
                       description="Judge a capture from a lab or the field (a terminal paste, a logger dump "
                       "with timestamps, the suite's own transcripts) with the suite's engine and spec. "
                       "Exit 0: every verdict pass or skipped; 1: a fail; 2: unreadable input.")
    k.add_argument("transcript", help="the capture file")
    k.add_argument("--model", required=True, choices=families.models())
    k.add_argument("--out", default="reports/check", help="where results.jsonl and compliance.{json,html} go "
                                                           "(default reports/check)")
    args = ap.parse_args(argv)
    if args.cmd == "check":
        return _check(args)
    if args.cmd == "allure":
        return _allure(args)
    if args.cmd == "ics":
        return _ics(args)
    if args.cmd == "emulate":
        if args.model is None and not args.replay:
            e.error("the following arguments are required: --model")
        return _emulate(args)
    if args.cmd == "purposes":
        return _purposes(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
