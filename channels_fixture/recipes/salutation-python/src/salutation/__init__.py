"""salutation: format salutations."""

__version__ = "1.2.0"
__all__ = ["salute"]


def salute(name: str, *, formal: bool = False) -> str:
    """Return a salutation for ``name``, e.g. ``"Greetings, Ada."``."""
    if formal:
        return f"Good day to you, {name}."
    return f"Greetings, {name}."
