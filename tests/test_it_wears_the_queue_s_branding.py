"""A queue's name, colour and logo, set in the admin, are what Jane sees: on the HELP button of the
tax site, on the help page, in the help panel and on her conversation, never the portal's own name.
The colour goes only behind text chosen to read on it (WCAG AA); a logo is a small raster image
served from the portal itself, as its strict CSP (img-src 'self') allows."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import expect

from help_desk import branding
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat

NAME, YELLOW = "Nordsee Steuerhilfe", "#ffd400"
VIOLATION = "Content Security Policy"


def _png(width: int = 64, height: int = 64, kind: str = "PNG") -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (width, height), "#0f4c81").save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("colour", "text", "ratio"),
    [("#d7191c", "#ffffff", 5.19), ("#767676", "#ffffff", 4.54), ("#777777", "#000000", 4.69),
     (YELLOW, "#000000", 14.67)],
)  # fmt: skip
def test_it_chooses_the_text_that_reads_on_the_colour(colour, text, ratio):
    assert branding.text_on(colour) == text
    assert branding.contrast(colour, text) == pytest.approx(ratio, abs=0.01)


def test_it_reaches_aa_on_every_grey():
    greys = [f"#{n:02x}{n:02x}{n:02x}" for n in range(256)]
    assert min(branding.contrast(grey, branding.text_on(grey)) for grey in greys) >= branding.AA_NORMAL_TEXT


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#12345g", "#ffd400\n"])
def test_it_refuses_a_colour_not_written_rrggbb(colour):
    with pytest.raises(ValidationError):
        branding.validate_colour(colour)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a PNG"),
        ("logo.png", b"not an image at all", "not a PNG"),
        ("logo.bmp", _png(kind="BMP"), "not a PNG"),
        ("logo.png", _png(2000, 20), "1024 by 1024"),
        ("logo.png", b"\x89PNG" + b"\0" * 300_000, "256 KB"),
    ],
)
def test_it_refuses_a_logo_that_is_no_small_raster_image(name, content, problem):
    with pytest.raises(ValidationError, match=problem):
        branding.validate_logo(SimpleUploadedFile(name, content))


@pytest.mark.django_db
def test_it_serves_only_a_checked_colour_in_the_stylesheet(client):
    from tests.factories import make_queue

    queue = make_queue()
    queue.colour = "red;}*{"  # past the admin's validation, from code
    queue.save()
    css = client.get(f"/help/brand/{queue.slug}.css").content.decode()
    assert css == ":root { --brand: #d7191c; --brand-text: #ffffff; }\n"
    assert client.get(f"/help/brand/{queue.slug}.json").json()["colour"] == "#d7191c"


def test_it_takes_a_small_png_logo():
    branding.validate_logo(SimpleUploadedFile("logo.png", _png()))


def _rgb(css: str) -> str:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css)[:3])
    return f"#{red:02x}{green:02x}{blue:02x}"


def _drawn_in_brand(element: Any) -> None:
    """Waits for the brand's stylesheet: a script may see the page before its styles have loaded."""
    expect(element).to_have_css("background-color", "rgb(255, 212, 0)")


def _colours(element: Any) -> list[str]:
    """Its background and text colours as the browser draws them."""
    colours = element.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    return [_rgb(colour) for colour in colours]


def _brand_bar(page: Any) -> Any:
    bar = page.get_by_role("banner")
    bar.get_by_text(NAME).wait_for()
    _drawn_in_brand(bar)
    background, text = _colours(bar)
    assert (background, text) == (YELLOW, "#000000")
    assert branding.contrast(background, text) >= branding.AA_NORMAL_TEXT
    assert bar.locator("img").evaluate("img => img.complete && img.naturalWidth") == 64  # served from MEDIA
    assert "WebRTC IMS portal" not in page.locator("body").inner_text()
    return bar


def _brand_the_queue(context: Any, base: str, logo: Path) -> None:
    admin = context.new_page()
    admin.goto(base + "/admin/help_desk/queue/")
    admin.get_by_label("Username").fill("admin")
    admin.get_by_label("Password").fill("admin-demo")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_role("link", name="Tax help").click()
    admin.get_by_label("Display name").fill(NAME)
    admin.get_by_label("Colour").fill(YELLOW)
    admin.get_by_label("Logo").set_input_files(str(logo))
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.get_by_text("was changed successfully").wait_for()
    admin.locator("#result_list").get_by_role("link", name="Tax help").click()
    admin.get_by_text("black, contrast 14.7:1").wait_for()


def test_jane_sees_the_queue_s_brand_everywhere(demo_server, tmp_path):
    logo = tmp_path / "nordsee.png"
    logo.write_bytes(_png())
    seen: list[str] = []

    def watched(context: Any) -> Any:
        context.on("console", lambda message: seen.append(message.text) if VIOLATION in message.text else None)
        return context

    with chromium() as browser:
        _brand_the_queue(watched(browser.new_context()), demo_server, logo)
        desk = advisor_desk(browser, demo_server)
        context = watched(browser.new_context())  # Jane's

        site = context.new_page()
        site.goto(demo_server + "/demo/tax-site/")
        button = site.get_by_role("button", name="Get help from an advisor")
        site.wait_for_function(
            "() => getComputedStyle(document.querySelector('#portal-help-button')).color === 'rgb(0, 0, 0)'"
        )
        assert _rgb(button.evaluate("b => getComputedStyle(b).backgroundColor")) == YELLOW
        screenshot(site, "branding-tax-site")

        panel_site = context.new_page()
        panel_site.goto(demo_server + "/demo/tax-site/?open=panel")
        panel_site.get_by_role("button", name="Get help from an advisor").click()
        panel = panel_site.frame_locator("iframe[title='Help from an advisor']")
        panel.get_by_role("banner").get_by_text(NAME).wait_for()
        _drawn_in_brand(panel.get_by_role("banner"))
        assert _colours(panel.get_by_role("banner")) == [YELLOW, "#000000"]

        jane = jane_asks_for_chat(browser, demo_server, context=context)
        _brand_bar(jane)
        assert jane.get_by_role("heading", level=1).inner_text() == NAME
        assert NAME in jane.title()
        desk.locator("#ringing button", has_text="Accept").click()
        jane.locator("#status", has_text="You are talking with Alex Weber").wait_for()
        send = jane.get_by_role("button", name="Send")
        assert _colours(send) == [YELLOW, "#000000"]
        screenshot(jane, "branding-conversation")

        help_page = context.new_page()
        help_page.goto(demo_server + "/help/?queue=tax-help")
        _brand_bar(help_page)
        screenshot(help_page, "branding-help-page")
        help_page.wait_for_timeout(300)  # reports of anything loaded last
        assert seen == []
