"""Configuration of the emulated GV500: what a real unit has from its factory, its flash
and AT@ commands the seed does not describe (AT@BSS: the primary backend server).

In process: ``Emulator("queclink_gv500", config=Gv500Config(...))`` or, at run time,
``emulator.call(lambda m: m.configure(primary_port=4000))``. For ``atconform emulate``
(another process): a YAML file of these fields named by ``$ATCONFORM_GV500_CONFIG``.
Times are seconds.
"""
from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONFIG_ENV = "ATCONFORM_GV500_CONFIG"


class Gv500Config(BaseModel):
    """The unit's identity, password, primary backend server and reply details."""

    model_config = ConfigDict(extra="forbid")
    unit_id: str = Field("123456789012345", pattern=r"[0-9]{15}")   # the examples' (L7, L9)
    password: str = Field("gv500cna", min_length=8, max_length=16)  # the table's default (L51)
    # AT@BSS (not in the seeds): where the unit connects first; None: nowhere
    primary_host: str | None = None
    primary_port: int = Field(0, ge=0, le=65535)
    # the backup as a unit that never ran AT@BSS2 reports it: no address, the table's
    # defaults for port (30059, L73) and mode (0, L81)
    backup_ip: str = ""
    backup_port: str = "30059"
    backup_mode: int = Field(0, ge=0, le=1)
    # reply fields the seed does not explain, as the examples print them (L7, L9)
    header_fields: tuple[str, str, str] = ("8203", "3", "0")
    query_fields: tuple[str, str] = ("1", "1")
    send_time: str | None = Field(None, pattern=r"[0-9]{14}")   # fixed YYYYMMDDHHMMSS; None: UTC now
    count: int = Field(0, ge=0, le=0xFFFF)                      # the next reply's <count>
    bad_input_reply: Literal["silent", "nack"] = "silent"       # ICS bad_input_reply
    reply_prefix: str = ""                                      # bytes before each reply
    reply_suffix: str = ""                                      # and after its "$"
    # backend connection timing (not in the seed: AT@BSS's Connection Time is out of scope)
    reconnect_delay: float = Field(0.2, ge=0)   # after a disconnection, before the next attempt
    retry_interval: float = Field(1.0, ge=0)    # after every server failed, before trying again
    connect_timeout: float = Field(3.0, gt=0)   # an attempt not connected by then failed

    @field_validator("query_fields", "header_fields")
    @classmethod
    def _digits(cls, v):
        if not all(x.isascii() and x.isdigit() for x in v):
            raise ValueError("reply fields are decimal digits")
        return v

    @classmethod
    def from_env(cls) -> "Gv500Config":
        """The file named by ``$ATCONFORM_GV500_CONFIG``, else the defaults. Raises
        atconform.errors.BadInput naming the file and field."""
        path = os.environ.get(CONFIG_ENV)
        if not path:
            return cls()
        from atconform.errors import load_yaml_model
        return load_yaml_model(path, cls)
