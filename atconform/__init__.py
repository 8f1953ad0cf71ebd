"""atconform: conformance test suite for cellular modems' TCP/IP AT commands."""
__version__ = "0.1.0"

MODELS = ("bg96", "quectel_gsm", "fibocom_l610", "queclink_gv500")
