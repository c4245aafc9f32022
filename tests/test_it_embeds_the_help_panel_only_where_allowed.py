"""The help pages open in a panel (an iframe) on the sites allowed to embed them: CSP
frame-ancestors names only those sites (HELP_EMBED_ORIGINS, and in the demo the portal's own tax
site), and X-Frame-Options agrees. A page on any other origin cannot frame them; every other page
of the portal stays unframeable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_in_the_panel, send


def test_jane_chats_through_the_panel_on_the_tax_site(demo_server):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)
        site, panel = jane_in_the_panel(browser, demo_server)
        desk.locator("#ringing button", has_text="Accept").click()
        panel.locator("#status", has_text="You are talking with Alex Weber").wait_for()
        send(site, "Which line for my pension?", panel)
        pane = desk.locator(".conversation").last
        pane.locator(".message.in .body", has_text="Which line for my pension?").wait_for()
        send(desk, "Line 5a.", pane)
        panel.locator(".message.in .body", has_text="Line 5a.").wait_for()
        assert site.url.endswith("/demo/tax-site/?open=panel")  # she never left the tax site
        assert panel.get_by_role("link", name="Log in").count() == 0  # no portal bar leading out of the panel
        screenshot(site, "panel-on-the-tax-site")


@contextmanager
def other_site(framed_url: str) -> Iterator[str]:
    """A site on another origin (another port) whose page tries to frame `framed_url`."""
    page = f'<!doctype html><title>Elsewhere</title><iframe src="{framed_url}" title="framed"></iframe>'.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("path", ["/help/?queue=tax-help", "/desk/", "/"])
def test_another_origin_cannot_frame_the_portal(demo_server, path):
    with other_site(demo_server + path) as elsewhere, chromium() as browser:
        page = browser.new_page()
        with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refused:
            page.goto(elsewhere)
        assert demo_server in refused.value.text
        framed = page.frame_locator("iframe[title=framed]")
        assert framed.get_by_role("heading").count() == 0  # nothing of the portal's page was shown
        assert framed.get_by_role("button").count() == 0


@pytest.mark.django_db
def test_it_names_the_embedding_sites_on_the_help_pages_only(client, settings):
    settings.HELP_FRAME_ANCESTORS = ["'self'", "https://tax.example.com"]
    from tests.factories import make_operator, make_queue

    queue = make_queue()
    elsewhere = make_queue(operator=make_operator("other.example.net"))  # a queue that lists another site
    elsewhere.embedding_origins = "https://shop.example.com"
    elsewhere.save()
    queue.embedding_origins = "https://tax.example.com"
    queue.save()
    help_page = client.get(f"/help/?queue={queue.slug}")
    assert "frame-ancestors 'self' https://tax.example.com" in help_page["Content-Security-Policy"]
    others = client.get(f"/help/?queue={elsewhere.slug}")["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in others + ";"  # its site is not among HELP_EMBED_ORIGINS
    assert "X-Frame-Options" not in help_page  # it cannot name a site: CSP decides
    home = client.get("/")
    assert "frame-ancestors 'none'" in home["Content-Security-Policy"]
    assert home["X-Frame-Options"] == "DENY"

    settings.HELP_FRAME_ANCESTORS = ["'self'"]
    assert client.get(f"/help/?queue={queue.slug}")["X-Frame-Options"] == "SAMEORIGIN"
    settings.HELP_FRAME_ANCESTORS = []
    nowhere = client.get(f"/help/?queue={queue.slug}")
    assert "frame-ancestors 'none'" in nowhere["Content-Security-Policy"]
    assert nowhere["X-Frame-Options"] == "DENY"
