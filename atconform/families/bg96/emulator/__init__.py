"""Emulated Quectel BG96: the TCP/IP AT command set of the BG96 TCP/IP AT Commands
Manual (seed 002), behind real loopback sockets.

Parsing and validation come from ``specs/bg96.yaml`` through :class:`Dce`; this package
holds the behaviour a table cannot say, one module per part, each with its own state:

- :mod:`.contexts`: PDP contexts (§2.1.1-2.1.3, §2.2.5);
- :mod:`.sockets`: the socket table and its <socket_state> machine (§2.1.4-2.1.6);
- :mod:`.datapath`: the three access modes (§1.2), ``>`` input and sending (§2.1.7-2.1.9);
- :mod:`.config`: AT+QICFG (§2.1.15), AT+QISDE (§2.1.16), registration <n>;
- :mod:`.service_commands`: ping, NTP, DNS (§2.1.11-2.1.14);
- :mod:`.lifecycle`: power, faults, <err> bookkeeping (§2.1.17);
- :mod:`.errors`: chapter 4's error codes by name;
- :mod:`.defects`: the planted behaviour defects, one list, one hook;
- :mod:`.modem`: :class:`Bg96`, which holds the parts.

Method names follow the manual. Readings the manual leaves open are marked
``# reading:``.
"""
from .defects import BEHAVIOUR_DEFECTS, UnknownDefect, check_defect_calls
from .errors import Err
from .modem import IDENTITY, REVISION, Bg96
from .sockets import TRANSITIONS, IllegalSocketTransition, SocketEvent, SocketState

check_defect_calls()    # a defect(...) name missing from BEHAVIOUR_DEFECTS fails the import

__all__ = ["BEHAVIOUR_DEFECTS", "Bg96", "Err", "IDENTITY", "IllegalSocketTransition", "REVISION",
           "SocketEvent", "SocketState", "TRANSITIONS", "UnknownDefect"]
