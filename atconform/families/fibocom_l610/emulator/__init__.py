"""Emulated Fibocom L610: the TCP/UDP AT command set of seed 004 (the MIP set, HEX mode,
online data mode) behind real loopback sockets.

Parsing and validation come from ``specs/fibocom_l610.yaml`` through the generic
:class:`~atconform.emulator.dce.Dce`; the 27.007 general commands from
:mod:`atconform.emulator.general`. This package holds what a table cannot say, one module
per part, each with its own state:

- :mod:`.link`: AT+MIPCALL and the PDP contexts (§1.1.1);
- :mod:`.sockets`: sockets, the accumulating buffer and its pushes, flow control, output
  to the host per AT+MIPDSETS and IPRFMT, read mode, TCP stack settings (§1.1.2-1.1.13,
  §1.1.19-1.1.23, §1.2.4);
- :mod:`.hexmode`: HEX-mode AT+MIPSEND (§1.2.1-1.2.3);
- :mod:`.odm`: online data mode, ``+++``, pseudo-command mode, ATO (§1.1.18, §1.1.24);
- :mod:`.services`: DNS servers, AT+MIPDNS, AT+MPING, AT+MIPNTP (§1.1.14-1.1.17, §1.1.21-22);
- :mod:`.errors`: the 2000-series codes and which refusal gives which;
- :mod:`.defects`: the planted behaviour defects;
- :mod:`.modem`: :class:`L610`, which holds the parts, power and results.
"""
from .defects import BEHAVIOUR_DEFECTS, UnknownDefect, check_defect_calls
from .errors import Err
from .modem import L610, L610_MODULE

check_defect_calls()    # a defect(...) name missing from BEHAVIOUR_DEFECTS fails the import

__all__ = ["BEHAVIOUR_DEFECTS", "Err", "L610", "L610_MODULE", "UnknownDefect"]
