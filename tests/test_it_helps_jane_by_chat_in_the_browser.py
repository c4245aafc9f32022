"""Use case H.6, first half, as people do it: Jane presses HELP on the tax site and chats with an
advisor on the desk; her messages and the advisor's cross the IMS core and show on both screens."""

import subprocess

from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, jane_asks_for_chat
from tests.support.processes import manage, portal_env


def _crossed_the_ims(tmp_path) -> str:
    query = (
        "from help_desk.models import ChatMessage as M; "
        "print(M.objects.filter(seq__isnull=False).count(), "
        "M.objects.filter(seq__isnull=False, pager_message__direction='in').count())"
    )
    env = portal_env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    return subprocess.run(manage("shell", "-c", query), env=env, check=True, capture_output=True, text=True).stdout


def test_jane_chats_with_an_advisor_through_the_standin_core(demo_server, tmp_path):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)
        jane = jane_asks_for_chat(browser, demo_server)
        chat_both_ways(jane, desk, "help-demo")
    assert _crossed_the_ims(tmp_path).split()[-2:] == ["2", "2"]


def test_jane_chats_with_an_advisor_through_kamailio(demo_on_kamailio, tmp_path):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_on_kamailio)
        jane = jane_asks_for_chat(browser, demo_on_kamailio)
        chat_both_ways(jane, desk, "help-kamailio")
    assert _crossed_the_ims(tmp_path).split()[-2:] == ["2", "2"]
