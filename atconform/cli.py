"""``atconform`` command line.

    atconform emulate --model bg96 [--pty | --tcp HOST:PORT] [--dns-port N] [--defects FILE]
                      [--faults FILE]
    atconform report [results.jsonl] [--out DIR] | --diff OLD NEW
    atconform purposes [--model bg96]          list generated test purposes

``emulate`` prints ``PTY /dev/pts/N`` (or ``TCP host:port``) as its first stdout line and
serves until SIGINT or SIGTERM (contract in DESIGN.md). It binds loopback only unless
--tcp names another address. With --faults each fault firing is reported on stderr.
"""
from __future__ import annotations

import argparse
import signal
import sys

from atconform import MODELS


def _emulate(args: argparse.Namespace) -> int:
    import yaml

    from atconform.emulator import EMULATED_MODELS, Emulator
    from atconform.emulator.dce import Defects

    if args.model not in EMULATED_MODELS:
        print(f"atconform emulate: no emulator for {args.model} yet (emulated: {', '.join(EMULATED_MODELS)})",
              file=sys.stderr)
        return 2
    faults = None
    if args.faults:
        from atconform.emulator.faults import FaultPlan
        from atconform.spec import load_family
        try:
            faults = FaultPlan.load(args.faults)
            faults.check(load_family(args.model))
        except (OSError, yaml.YAMLError, ValueError) as e:   # pydantic's ValidationError is a ValueError
            print(f"atconform emulate: bad fault plan {args.faults}: {e}", file=sys.stderr)
            return 2
    defects = None
    if args.defects:
        with open(args.defects, encoding="utf-8") as f:
            defects = Defects.model_validate(yaml.safe_load(f) or {})
    tcp = None
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        tcp = (host or "127.0.0.1", int(port))
    t0 = []

    def report_fault(ev) -> None:
        print(f"fault +{ev.time - t0[0]:.3f}s {ev.kind}: {ev.what}", file=sys.stderr, flush=True)

    emu = Emulator(args.model, defects=defects, dns_port=args.dns_port, tcp=tcp, faults=faults,
                   on_fault=report_fault)
    t0.append(emu.modem.boot_time)          # times relative to the first power-on

    def stop(signum, frame):
        emu.loop._stopping = True

    signal.signal(signal.SIGTERM, stop)     # before the first line: a caller may stop us at once
    signal.signal(signal.SIGINT, stop)
    if faults is not None:
        print(f"atconform emulate: {len(faults.faults)} fault(s) from {args.faults}, seed {faults.seed}",
              file=sys.stderr, flush=True)
    print(f"PTY {emu.path}" if tcp is None else f"TCP {emu.path}", flush=True)
    try:
        emu.serve_forever()
    finally:
        emu.stop()
    return 0


def _purposes(args: argparse.Namespace) -> int:
    from atconform.casegen import generate
    from atconform.spec import load_family

    for p in generate(load_family(args.model)):
        print(f"{p.id}\t§{p.section}\t{p.title}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        from atconform.report import main_report
        return main_report(argv[1:])
    ap = argparse.ArgumentParser(prog="atconform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("emulate", help="start a modem emulator on a pty or TCP port")
    e.add_argument("--model", required=True, choices=MODELS)
    g = e.add_mutually_exclusive_group()
    g.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal (default)")
    g.add_argument("--tcp", metavar="HOST:PORT", help="serve the AT link on a TCP port (pyserial socket://)")
    e.add_argument("--dns-port", type=int, default=53, help="UDP port of the DNS servers the emulated network uses (default 53)")
    e.add_argument("--defects", metavar="FILE", help="YAML of planted defects (self-tests)")
    e.add_argument("--faults", metavar="FILE",
                   help="YAML fault plan: seeded runtime faults (no answer, errors, SIM/registration delays, "
                        "pdpdeact, hang, reboot); example: atconform/emulator/faults_example.yaml")
    sub.add_parser("report", help="rebuild reports/compliance.{json,html} from results.jsonl (see atconform report -h)")
    p = sub.add_parser("purposes", help="list the generated test purposes of a model")
    p.add_argument("--model", default="bg96", choices=MODELS)
    args = ap.parse_args(argv)
    if args.cmd == "emulate":
        return _emulate(args)
    if args.cmd == "purposes":
        return _purposes(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
