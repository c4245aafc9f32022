"""Text every store of the portal takes: PostgreSQL refuses NUL, and UTF-8 (PostgreSQL, the
channel layer's msgpack) refuses a lone surrogate, which JSON's \\ud800 escape can carry."""


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
