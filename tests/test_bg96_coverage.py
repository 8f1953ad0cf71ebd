"""Chapter-2 coverage of the BG96 spec, checked against the manual itself (seed 002).

The manual's text is parsed for its command headings (``2.1.N. AT+XXXX Title``), the URCs of
section 2.2 and the error code table of chapter 4; the spec must have every one of them and cite
the same section. Skipped when the seed file is not available.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from atconform.spec import load_family

SEED = "002_0fb801db6955a51c.txt"
REPO = Path(__file__).resolve().parents[1]

_HEADING = re.compile(r"^\s*(\d+(?:\.\d+)+)\.?\s+(\S.*?)\s*$")
_COMMAND = re.compile(r"^\s*(2\.1\.\d+)\.\s+AT(\+[A-Z]+)\s+\S")
# '+QIURC: "closed"' -- in the flattened tables the keyword may sit a few lines below
# "+QIURC:" ('+QIURC: When the new incoming connection ...\n\n"incoming"”,<connectlD>').
_URC_KEYWORD = re.compile(r'\+QIURC:[^"]{0,80}?"([a-z][a-z ]*[a-z])["”™]', re.DOTALL)
_SPEC_URC_KEYWORD = re.compile(r'^\+QIURC: "([^"]+)"')


def _seeds_dir() -> Path:
    env = os.environ.get("ATCONFORM_SEEDS")
    return Path(env) if env else REPO.parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def manual() -> list[str]:
    path = _seeds_dir() / SEED
    if not path.is_file():
        msg = f"BG96 manual {SEED} not found in {path.parent} (set ATCONFORM_SEEDS)"
        if os.environ.get("CI"):
            pytest.fail(msg + ": CI must check the spec against the manual")  # never a silent skip in CI
        pytest.skip(msg)
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def bg96():
    return load_family("bg96")


def _sections(lines: list[str]) -> dict[str, str]:
    """Section number -> its text (heading line to the next numbered heading), for numbered
    headings with at least two levels ("2.1.4", "3.2"). Parameter-value lines such as "0 NONE"
    have a single number and are not headings."""
    out: dict[str, list[str]] = {}
    current = None
    for line in lines:
        m = _HEADING.match(line)
        if m and m.group(2)[:1].isupper():
            current = m.group(1)
            out.setdefault(current, [])
        if current is not None:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _section_number(section: str) -> str:
    """'2.1.15 recvind' -> '2.1.15'; '2.2.1.' -> '2.2.1'."""
    return section.split()[0].rstrip(".") if section.strip() else ""


def manual_commands(lines: list[str]) -> dict[str, str]:
    """'+QICSGP' -> '2.1.1' for every ``2.1.N. AT+XXXX Title`` heading."""
    out: dict[str, str] = {}
    for line in lines:
        m = _COMMAND.match(line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


def manual_urcs(lines: list[str]) -> dict[str, str]:
    """URC keyword -> the 2.2.N section that defines it."""
    out: dict[str, str] = {}
    for number, text in _sections(lines).items():
        if re.fullmatch(r"2\.2\.\d+", number):
            for kw in _URC_KEYWORD.findall(text):
                out.setdefault(kw, number)
    return out


def manual_urc_mentions(lines: list[str]) -> dict[str, set[str]]:
    """URC keyword -> every section whose text shows that +QIURC."""
    out: dict[str, set[str]] = {}
    for number, text in _sections(lines).items():
        for kw in _URC_KEYWORD.findall(text):
            out.setdefault(kw, set()).add(number)
    return out


def manual_error_codes(lines: list[str]) -> dict[int, str]:
    """Chapter 4, Table 1. The flattened table gives first a column of codes and a column of
    meanings (paired in order), then rows with code and meaning on one line."""
    start = next(i for i, l in enumerate(lines) if l.strip().startswith("Table 1: Summary of Error Codes"))
    codes: list[int] = []
    meanings: list[str] = []
    rows: dict[int, str] = {}
    for line in lines[start + 1:]:
        s = line.strip()
        if re.match(r"^\d [A-Z]", s):  # next chapter: "5 Appendix A Reference"
            break
        if not s or s in ("<err>", "Meaning"):
            continue
        if re.fullmatch(r"\d+", s):
            codes.append(int(s))
        elif m := re.fullmatch(r"(\d+)\s+(.+)", s):
            rows[int(m.group(1))] = m.group(2).strip()
        else:
            meanings.append(s)
    assert len(codes) == len(meanings), f"error table columns do not pair: {codes} / {meanings}"
    out = dict(zip(codes, meanings))
    out.update(rows)
    return out


# -- the parser finds what it should ------------------------------------------------------
def test_parser_finds_all_chapter_2_commands(manual):
    found = manual_commands(manual)
    assert len(found) == 17, sorted(found)
    assert found["+QICSGP"] == "2.1.1" and found["+QIGETERROR"] == "2.1.17"


def test_parser_finds_all_section_2_2_urcs(manual):
    assert manual_urcs(manual) == {
        "closed": "2.2.1", "recv": "2.2.2", "incoming full": "2.2.3", "incoming": "2.2.4", "pdpdeact": "2.2.5"}


def test_parser_pairs_error_columns(manual):
    table = manual_error_codes(manual)
    assert table[0] == "Operation successful"
    assert table[564] == "DNS busy" and table[565] == "DNS parse failed" and table[574] == "Port busy"


# -- the spec covers the manual ------------------------------------------------------------
def test_every_chapter_2_command_is_in_the_spec_with_its_section(manual, bg96):
    problems = []
    for name, section in sorted(manual_commands(manual).items(), key=lambda kv: [int(x) for x in kv[1].split(".")]):
        try:
            cmd = bg96.command(name)
        except KeyError:
            problems.append(f"AT{name} (§{section}) is missing from the spec")
            continue
        cited = _section_number(cmd.source.section)
        if cmd.source.document != SEED or cited != section:
            problems.append(f"AT{name}: manual §{section}, spec cites {cmd.source}")
    assert not problems, "\n".join(problems)


def test_every_section_2_2_urc_is_in_the_spec_with_its_section(manual, bg96):
    spec: dict[str, list] = {}
    for u in bg96.urcs:
        m = _SPEC_URC_KEYWORD.match(u.template)
        if m:
            spec.setdefault(m.group(1), []).append(u)
    problems = []
    for kw, section in manual_urcs(manual).items():
        cites = {(u.source.document, _section_number(u.source.section)) for u in spec.get(kw, [])}
        if not spec.get(kw):
            problems.append(f'+QIURC: "{kw}" (§{section}) is missing from the spec')
        elif (SEED, section) not in cites:
            problems.append(f'+QIURC: "{kw}": manual §{section}, spec cites {sorted(cites)}')
    assert not problems, "\n".join(problems)


def test_spec_qiurc_variants_cite_a_section_that_shows_them(manual, bg96):
    """Every '+QIURC: "kw"...' of the spec cites a section of the manual where that URC appears
    (e.g. recv-length cites §2.1.15, the "recvind" option)."""
    mentions = manual_urc_mentions(manual)
    problems = []
    for u in bg96.urcs:
        m = _SPEC_URC_KEYWORD.match(u.template)
        if not m:
            continue
        kw, cited = m.group(1), _section_number(u.source.section)
        if u.source.document != SEED or cited not in mentions.get(kw, set()):
            problems.append(f'URC {u.name}: cites {u.source}, "{kw}" appears in §{sorted(mentions.get(kw, []))}')
    assert not problems, "\n".join(problems)


def test_error_codes_550_574_match_the_manual(manual, bg96):
    table = manual_error_codes(manual)
    wanted = range(550, 575)
    assert [c for c in table if c in wanted] == list(wanted), "the manual's table lacks some of 550-574"
    problems = []
    for code in wanted:
        text = bg96.error_text(code)
        if text is None:
            problems.append(f"{code} ({table[code]}) is missing from the spec")
        elif " ".join(text.split()) != " ".join(table[code].split()):
            problems.append(f"{code}: manual {table[code]!r}, spec {text!r}")
    assert not problems, "\n".join(problems)
