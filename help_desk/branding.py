"""A queue's own look on the customer's pages: its name, colour and logo instead of the portal's.

The colour goes only behind text whose colour is chosen for it (white, or black where white would
not reach WCAG AA's 4.5:1), so a brand colour can never make a label unreadable."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import RegexValidator
from PIL import Image, UnidentifiedImageError

DEFAULT_COLOUR = "#d7191c"  # the HELP button's red: white text on it reads at 5.2:1
WHITE, BLACK = "#ffffff", "#000000"
AA_NORMAL_TEXT = 4.5

validate_colour = RegexValidator(r"^#[0-9a-fA-F]{6}\Z", "A colour is written #rrggbb, e.g. #1f5eff.")

LOGO_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
LOGO_MAX_BYTES = 256 * 1024
LOGO_MAX_SIDE = 1024


def checked(colour: str) -> str:
    """The colour as stored, or the default where something wrote one past the admin's validation:
    it goes into a stylesheet, so nothing else may."""
    try:
        validate_colour(colour)
    except ValidationError:
        return DEFAULT_COLOUR
    return colour


def luminance(colour: str) -> float:
    """Relative luminance as WCAG 2 defines it (sRGB channels linearised)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(colour: str) -> str:
    """White where it reaches AA on `colour`, else black, which then always does (above 4.58:1)."""
    return WHITE if contrast(colour, WHITE) >= AA_NORMAL_TEXT else BLACK


def validate_logo(logo: File) -> None:  # type: ignore[type-arg]
    """A small raster image browsers show as an image: no SVG (a script could ride in it), nothing
    Pillow cannot identify, nothing large enough to slow the help page."""
    if logo.size is not None and logo.size > LOGO_MAX_BYTES:
        raise ValidationError(f"The logo is larger than {LOGO_MAX_BYTES // 1024} KB.")
    try:
        logo.seek(0)
        with Image.open(logo) as image:
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationError("The logo is not a PNG, JPEG, WebP or GIF image.") from None
    finally:
        logo.seek(0)
    if kind not in LOGO_FORMATS:
        raise ValidationError("The logo is not a PNG, JPEG, WebP or GIF image.")
    if max(width, height) > LOGO_MAX_SIDE:
        raise ValidationError(f"The logo is larger than {LOGO_MAX_SIDE} by {LOGO_MAX_SIDE} pixels.")
