"""Emulated Quectel GSM module (M95 era): the AT+QI* TCP/IP stack of the GSM TCPIP
Application Note (seed 003) behind real loopback sockets.

- :mod:`.stack`: contexts, connections, the listener, and the Figure 3/4 state machine
  read from the spec;
- :mod:`.modem`: :class:`Gsm`, the commands, data paths and transparent mode;
- :mod:`.defects`: the planted behaviour defects, one list, one hook.
"""
from .defects import BEHAVIOUR_DEFECTS, UnknownDefect, check_defect_calls
from .modem import GSM_IDENTITY, Gsm
from .stack import Connection, Context, IllegalStackTransition

check_defect_calls()    # a defect(...) name missing from BEHAVIOUR_DEFECTS fails the import

__all__ = ["BEHAVIOUR_DEFECTS", "Connection", "Context", "GSM_IDENTITY", "Gsm", "IllegalStackTransition",
           "UnknownDefect"]
