"""Issue 9 §3: the delimited framer and the GV500 emulator fuzzed with hypothesis. Inputs
and properties: :mod:`atconform.families.queclink_gv500.fuzz`. Seeded (derandomize), no
example database, no deadline; sizes from the environment:

    ATCONFORM_FUZZ_EXAMPLES   framer inputs and emulator batches (default 300)
"""
import os

from hypothesis import HealthCheck, example, given, settings

from atconform.emulator import Emulator
from atconform.families.queclink_gv500 import fuzz as fz
from atconform.spec import load_family
from atconform.transport.channel import Channel

GV = load_family("queclink_gv500")
EXAMPLES = int(os.environ.get("ATCONFORM_FUZZ_EXAMPLES", "300"))
FUZZ = dict(derandomize=True, database=None, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.large_base_example, HealthCheck.filter_too_much])


@settings(max_examples=EXAMPLES, **FUZZ)
@given(fz.framer_inputs())
@example(fz.FramerInput(fz.LINES[0], fz.ACK.format(seq="012F").encode() + b"+ACK:BSS2,1$2$\r", (5, 30, 61)))
@example(fz.FramerInput(None, b"xx+AC" + b"K:BSS2" * 900 + b"$+QRY:", (2, 4, 5)))
@example(fz.FramerInput(fz.LINES[3], b"\xff" * 5000 + b"$", (4097,)))
def test_the_delimited_framer_keeps_its_properties(inp):
    fz.check_framer(inp, GV)


RIG = fz.UnitRig(GV)


@settings(max_examples=EXAMPLES, **FUZZ)
@given(fz.emulator_inputs())
@example(b"AT@BSS2=gv500cna,,,1.2.3.4,590,0,,,012FAT@BSS2?gv500cna,,0001$$$")
@example(b"AT@BSS2?" + b"x" * 600 + b"$AT@")
def test_the_emulated_unit_answers_after_any_input(data):
    RIG.check(data)


def test_the_emulated_unit_over_its_pty_survives_a_burst():
    """The same through the real pty and the channel: a fuzz burst, then a query."""
    import random
    rng = random.Random(9)
    with Emulator("queclink_gv500") as emu, Channel(GV, emu.path) as ch:
        for _ in range(20):
            piece = bytes(rng.choice(b"AT@BSS2=?,$\r\ngv500cna0123456789|.+") for _ in range(rng.randrange(300)))
            ch.write(piece)
        ch.write(b"\r\n")
        r = ch.command("AT@BSS2?gv500cna,,0C37")
        assert r.ok, r
        assert not emu.modem.handler_errors and not emu.loop.errors
