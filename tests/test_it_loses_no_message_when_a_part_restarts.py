"""Jane and her advisor chat in Chromium on the portal in its production shape (PostgreSQL, Redis,
daphne, the IMS side, Kamailio as the core) while each part is restarted in turn: Redis, the IMS
side (stopped for a while, messages written meanwhile), and daphne (killed, then started again).
Both pages end with every message exactly once, numbered 1..n with no gap, each sender's in the
order written, nothing left "sending…". A MESSAGE the core never answers is shown as not
delivered once its deadline passes."""

import time

import psycopg

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat, send
from tests.support.parts import Portal

SHOWN = "els => els.map(e => [Number(e.dataset.seq), e.querySelector('.body').textContent])"


def _shown(messages):
    return messages.evaluate_all(SHOWN)


def _until_all_shown(messages, texts, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = _shown(messages.locator(".message[data-seq]"))
        if len(shown) >= len(texts) and messages.locator(".pending").count() == 0:
            return shown
        time.sleep(0.25)
    raise AssertionError(f"shown {_shown(messages.locator('.message[data-seq]'))}, written {texts}")


def _chat(portal, browser):
    desk = advisor_desk(browser, portal.base)
    jane = jane_asks_for_chat(browser, portal.base)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


def test_it_loses_no_message_when_redis_the_ims_side_or_daphne_restarts(fresh_database, tmp_path):
    with Portal(tmp_path, fresh_database, IMS_MESSAGE_SWEEP_SECONDS="0.5") as portal, chromium() as browser:
        jane, desk, pane = _chat(portal, browser)
        written: list[str] = []

        def talk(moment):
            for who, page, scope in (("Jane", jane, None), ("Advisor", desk, pane)):
                text = f"{who}, {moment}"
                send(page, text, scope)
                written.append(text)

        talk("before anything restarts")
        portal.restart_redis(downtime=1.0)
        talk("just after Redis restarted")
        portal.stop_ims()
        talk("while the IMS side is stopped")
        portal.start_ims()
        talk("once the IMS side is back")
        portal.kill_daphne()
        talk("while daphne is down")
        portal.start_daphne()
        talk("once daphne is back")
        expected = list(enumerate(written, 1))
        for messages in (jane.locator("#messages"), pane.locator(".messages")):
            shown = _until_all_shown(messages, written)
            assert sorted(seq for seq, _ in shown) == list(range(1, len(written) + 1))
            assert sorted(text for _, text in shown) == sorted(written)
            for who in ("Jane", "Advisor"):  # each sender's messages in the order they were written
                in_order = [text for _, text in sorted(shown) if text.startswith(who)]
                assert in_order == [text for text in written if text.startswith(who)]
        screenshot(jane, "restarts-jane")
        screenshot(desk, "restarts-advisor")
    with psycopg.connect(fresh_database) as db:
        stored = db.execute("SELECT seq, body FROM help_desk_chatmessage ORDER BY seq").fetchall()
    assert [seq for seq, _ in stored] == [seq for seq, _ in expected]
    assert sorted(body for _, body in stored) == sorted(written)


def test_it_shows_a_message_the_core_never_answered_as_not_delivered(fresh_database, tmp_path):
    env = {"IMS_MESSAGE_DEADLINE_SECONDS": "3", "IMS_MESSAGE_SWEEP_SECONDS": "0.5", "IMS_KEEPALIVE_SECONDS": "3600"}
    with Portal(tmp_path, fresh_database, **env) as portal, chromium() as browser:
        jane, _, _ = _chat(portal, browser)
        portal.core.stop()  # the core is gone: the MESSAGE gets no answer at all
        send(jane, "Is anyone there?")
        failed = jane.locator(".message.failed .status")
        failed.wait_for(timeout=30_000)
        assert "Not delivered" in failed.text_content()
        assert "no answer from the IMS core within 3 s" in (failed.get_attribute("title") or "")  # the words behind it
        screenshot(jane, "not-delivered-jane")
