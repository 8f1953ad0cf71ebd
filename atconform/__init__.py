"""atconform: conformance test suite for cellular modems' TCP/IP AT commands."""
__version__ = "0.1.0"



def __getattr__(name: str):
    # MODELS: every registered family (atconform.families), the one list of them
    if name == "MODELS":
        from atconform import families
        return families.models()
    raise AttributeError(name)
