"""``atconform`` command line.

    atconform emulate --model bg96 [--pty | --tcp HOST:PORT] [--dns-port N] [--defects FILE]
    atconform report [results.jsonl] [--out DIR] | --diff OLD NEW
    atconform purposes [--model bg96]          list generated test purposes

``emulate`` prints ``PTY /dev/pts/N`` (or ``TCP host:port``) as its first stdout line and
serves until SIGINT or SIGTERM (contract in DESIGN.md). It binds loopback only unless
--tcp names another address.
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
    defects = None
    if args.defects:
        with open(args.defects, encoding="utf-8") as f:
            defects = Defects.model_validate(yaml.safe_load(f) or {})
    tcp = None
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        tcp = (host or "127.0.0.1", int(port))
    emu = Emulator(args.model, defects=defects, dns_port=args.dns_port, tcp=tcp)
    print(f"PTY {emu.path}" if tcp is None else f"TCP {emu.path}", flush=True)

    def stop(signum, frame):
        emu.loop._stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
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
