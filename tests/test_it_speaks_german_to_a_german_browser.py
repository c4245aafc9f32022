"""English and German, chosen from the browser's language: the pages translated so far answer a
German browser in German and every other in English, in Chromium too; every string marked for
translation has its German, and the compiled catalogue is the one its source compiles to."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from help_desk.actions import leave_offline_message
from identity_blocks import actions
from identity_blocks.holders import Holder
from tests.factories import make_advisor, make_block, make_queue, make_user
from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat
from tests.support.processes import ROOT, portal_env, python

CATALOGUE = ROOT / "locale" / "de" / "LC_MESSAGES"
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.mark.django_db
def test_it_answers_in_the_browser_s_language(client):
    german = client.get("/", **GERMAN).content.decode()
    assert '<html lang="de">' in german
    assert "Sprechen Sie mit einem echten Menschen, direkt im Browser" in german
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()  # no French: English
    assert '<html lang="en">' in english
    assert "Talk to a real person, right in your browser" in english
    assert "Benutzername" in client.get(reverse("login"), **GERMAN).content.decode()


@pytest.mark.django_db
def test_it_counts_in_german(client):
    make_block(5)
    mary = make_user("mary")
    actions.assign_identity(Holder.member(mary))
    client.force_login(mary)
    log = client.get(reverse("call-log"), **GERMAN).content.decode()
    assert "<h1>Anrufliste</h1>" in log
    assert "Noch keine Anrufe." in log


@pytest.mark.django_db
def test_the_desk_s_inbox_speaks_german(client):
    queue = make_queue()
    alex = make_advisor("alex", queue)
    left = leave_offline_message(queue, "Jane Doe", "jane@example.com", "Wo trage ich meine Rente ein?")
    client.force_login(alex.user)
    inbox = client.get(reverse("desk-inbox"), **GERMAN).content.decode()
    assert "<h1>Posteingang</h1>" in inbox
    assert "1 unbeantwortet" in inbox
    assert "<strong>Unbeantwortet</strong>" in inbox
    message = client.get(reverse("desk-inbox-message", args=[left.pk]), **GERMAN).content.decode()
    assert "<h1>Nachricht von Jane Doe</h1>" in message
    assert "Ihre Antwort (per E-Mail an jane@example.com gesendet)" in message
    assert "Antwort senden" in message


def test_the_desk_and_jane_s_status_speak_german_in_a_german_chromium(demo_server):
    """The advisor's desk (its page and desk.js) and the status line of Jane's help page
    (help.js), each in a German Chromium."""
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server, context=browser.new_context(locale="de-DE"), language="de")
        desk.get_by_role("heading", name="Beratungsplatz").wait_for()
        assert desk.get_by_role("option", name="Verfügbar").count() == 1
        desk.get_by_text("Für Sie klingelt gerade nichts.").wait_for()
        jane = jane_asks_for_chat(
            browser, demo_server, context=browser.new_context(locale="de-DE"), connect="Verbinden"
        )
        ringing = desk.locator("#ringing li")
        ringing.locator(".waited", has_text="Wartezeit").wait_for()
        ringing.get_by_role("button", name="Annehmen").click()
        jane.locator("#status", has_text="Sie sprechen mit Alex Weber.").wait_for()
        pane = desk.locator(".conversation").last
        pane.locator(".came-from", has_text="Gefragt von").wait_for()
        assert pane.get_by_role("button", name="Gespräch beenden").is_visible()
        pane.get_by_role("button", name="Gespräch beenden").click()
        pane.get_by_text("Dieses Gespräch ist beendet.").wait_for()
        jane.locator("#status", has_text="Das Gespräch ist beendet.").wait_for()


def test_a_german_chromium_gets_help_and_logs_mary_in_in_german(demo_server):
    with chromium() as browser:
        page = browser.new_context(locale="de-DE").new_page()
        page.goto(demo_server + "/help/")
        page.get_by_role("heading", name="Wie möchten Sie Hilfe bekommen?").wait_for()
        page.get_by_role("button", name="Nachricht hinterlassen").wait_for()  # the demo's advisor is not on duty
        assert page.get_by_label("Ihr Name").is_visible()
        page.goto(demo_server + "/")
        assert page.get_by_role("button", name="HILFE").is_visible()
        page.get_by_role("link", name="Anmelden").click()
        page.get_by_label("Benutzername").fill("mary")
        page.get_by_label("Passwort").fill("mary-demo")
        page.get_by_role("button", name="Anmelden").click()
        page.get_by_role("link", name="Meine IMS-Identität").wait_for()
        page.get_by_role("button", name="Abmelden").wait_for()


def test_the_browser_client_talks_german_in_a_german_chromium(demo_server):
    """Jane's conversation and Mary's call panel say in German what the browser client itself
    writes (chat.js, call_panel.js, identity.js), from the catalogue at /jsi18n/."""
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)  # the advisor's own browser speaks English
        german = browser.new_context(locale="de-DE")
        site = german.new_page()
        site.goto(demo_server + "/demo/tax-site/")
        with german.expect_page() as opened:
            site.locator("#portal-help-button").click()
        jane = opened.value
        jane.get_by_label("Chat").check()
        jane.get_by_role("button", name="Verbinden").click()
        jane.wait_for_url("**/help/request/*/")
        jane.wait_for_selector("body[data-live=yes]")
        desk.locator("#ringing button", has_text="Accept").click()
        jane.get_by_label("Nachricht").fill("Wo trage ich meine Rente ein?")
        jane.get_by_role("button", name="Senden").click()
        mine = jane.locator(".message.out", has_text="Wo trage ich meine Rente ein?")
        mine.locator(".who", has_text="Sie").wait_for()
        pane = desk.locator(".conversation").last
        pane.get_by_label("Message").fill("Zeile 5a.")
        pane.get_by_role("button", name="Send").click()
        theirs = jane.locator(".message.in", has_text="Zeile 5a.")
        assert theirs.locator(".who").text_content() == "Beratung"
        mine.locator(".status", has_text="gelesen").wait_for()  # she was shown the advisor's answer: "read"
        assert jane.get_by_role("link", name="Gesprächsprotokoll herunterladen").is_visible()

        mary = german.new_page()
        mary.goto(demo_server + "/accounts/login/?next=/identity/")
        mary.get_by_label("Benutzername").fill("mary")
        mary.get_by_label("Passwort").fill("mary-demo")
        mary.get_by_role("button", name="Anmelden").click()
        mary.locator("#registration-state", has_text="Registriert").wait_for(timeout=20_000)
        mary.locator("body[data-live=yes]").wait_for()
        calls = mary.locator("#calls-panel")
        assert calls.get_by_role("button", name="Videoanruf").is_visible()
        calls.get_by_text("Geräte").wait_for()
        calls.get_by_role("button", name="Anruf", exact=True).click()  # nobody typed in "Anrufen"
        calls.get_by_role("alert").filter(has_text="Geben Sie ein, wen Sie anrufen möchten").wait_for()


@pytest.mark.django_db
def test_the_client_s_catalogue_follows_the_browser_and_is_kept(client):
    german = client.get(reverse("jsi18n"), **GERMAN)
    assert german.json()["catalog"]["Hang up"] == "Auflegen"
    assert "Accept-Language" in german["Vary"]
    assert "max-age=3600" in german["Cache-Control"]
    again = client.get(reverse("jsi18n"), HTTP_IF_MODIFIED_SINCE=german["Last-Modified"], **GERMAN)
    assert again.status_code == 304
    assert "Hang up" not in client.get(reverse("jsi18n"), HTTP_ACCEPT_LANGUAGE="en").json()["catalog"]


def _msgids(po: Path) -> set[str]:
    text = po.read_text()
    return {m for m in re.findall(r'^msgid "(.*)"$', text, re.MULTILINE) if m} | {
        "".join(re.findall(r'^"(.*)"$', block, re.MULTILINE))
        for block in re.findall(r'^msgid ""\n((?:".*"\n)+)', text, re.MULTILINE)
    }


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_marked_string_has_its_german(tmp_path, domain):
    """makemessages over a copy of the project finds no string the catalogue lacks, and the
    catalogue has no entry left empty or fuzzy: the pages' (django) and the browser client's
    (djangojs, found by xgettext in static/js)."""
    listed = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listed, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po").unlink()
    command = python(
        str(tmp_path / "manage.py"), "makemessages", "-d", domain, "-l", "de", "--ignore=tests", "--ignore=bench"
    )
    subprocess.run(command, cwd=tmp_path, env=portal_env(), check=True, capture_output=True)
    found = _msgids(tmp_path / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po")
    assert found - _msgids(CATALOGUE / f"{domain}.po") == set()
    source = (CATALOGUE / f"{domain}.po").read_text()
    assert "#, fuzzy" not in source
    assert not re.search(r'^msgstr(\[\d\])? ""\n(?!")', source.split("\n\n", 1)[1], re.MULTILINE)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogue_is_its_source_s(tmp_path, domain):
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(CATALOGUE / f"{domain}.po")], check=True)
    assert compiled.read_bytes() == (CATALOGUE / f"{domain}.mo").read_bytes()


def test_a_german_chromium_reads_what_the_server_says_in_german(demo_server):
    """The demo's tax site, and on Mary's page a refusal the server words over her socket (the
    demo's agreement reaches German numbers only)."""
    with chromium() as browser:
        page = browser.new_context(locale="de-DE").new_page()
        page.goto(demo_server + "/demo/tax-site/")
        page.get_by_role("heading", name="Ihre Steuererklärung 2026").wait_for()
        assert page.get_by_label("Zeile 5a: Renten und Leibrenten").is_visible()
        help_button = page.get_by_role("button", name="Hilfe von einer Beraterin oder einem Berater holen")
        assert help_button.text_content() == "HILFE"
        page.goto(demo_server + "/accounts/login/?next=/identity/")
        page.get_by_label("Benutzername").fill("mary")
        page.get_by_label("Passwort").fill("mary-demo")
        page.get_by_role("button", name="Anmelden").click()
        page.locator("body[data-live=yes]").wait_for()
        form = page.locator("#message-form")
        form.get_by_label("An").fill("tel:+19005550100")
        form.get_by_label("Nachricht").fill("Hallo")
        form.get_by_role("button", name="Senden").click()
        refused = "Die Vereinbarung erlaubt keine Anrufe oder Nachrichten an +19005550100."
        form.get_by_role("alert").filter(has_text=refused).wait_for()
