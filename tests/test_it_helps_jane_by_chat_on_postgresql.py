"""Jane and an advisor chat in Chromium on the portal with PostgreSQL and the Redis channel layer
(the production shape), where chat does not cross the IMS: each message is numbered and stored
at once and shows on both screens, in order, read by the other side."""

import psycopg

from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, jane_asks_for_chat
from tests.support.processes import demo_portal


def test_jane_chats_with_an_advisor_numbered_by_postgresql(fresh_database, redis_url, channels_prefix, tmp_path):
    redis = dict(
        REDIS_URL=redis_url, CHANNELS_PREFIX=channels_prefix, CELERY_BROKER_URL="memory://"
    )  # tasks in-process
    portal = demo_portal(tmp_path, DATABASE_URL=fresh_database, HELP_CHAT_OVER_IMS="false", **redis)
    with portal as base, chromium() as browser:
        desk = advisor_desk(browser, base)
        jane = jane_asks_for_chat(browser, base)
        chat_both_ways(jane, desk, "help-postgresql")
    query = "SELECT seq, from_advisor, pager_message_id IS NULL, read_at IS NOT NULL FROM help_desk_chatmessage"
    with psycopg.connect(fresh_database) as db:
        rows = db.execute(query + " ORDER BY seq").fetchall()
    assert rows == [(1, False, True, True), (2, True, True, True)]  # each read by the other side
