import pytest

from tests.factories import make_advisor, make_queue


def test_it_shows_the_help_button_on_the_home_page(client):
    page = client.get("/").content.decode()
    assert 'id="help-button"' in page
    assert 'href="/help/"' in page


def test_it_sends_security_headers(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_it_offers_what_the_queue_allows_while_advisors_are_on_duty(client):
    queue = make_queue(allows_voice=True, allows_video=False, allows_secure_chat=True)
    make_advisor("alex", queue, presence="available")
    page = client.get(f"/help/?queue={queue.slug}").content.decode()
    for value in ("chat", "voice", "secure", "unsecured"):
        assert f'value="{value}"' in page
    assert 'value="video"' not in page
    assert 'value="voice">' in page
    assert 'value="secure">' in page  # the secure line, end to end between the two browsers
    assert 'value="chat" checked>' in page


@pytest.mark.django_db
def test_it_offers_an_offline_message_when_nobody_is_on_duty(client):
    from help_desk.models import OfflineMessage

    queue = make_queue()
    page = client.get(f"/help/?queue={queue.slug}").content.decode()
    assert 'id="offline-form"' in page
    form = {"queue": queue.slug, "name": "Jane", "email": "jane@example.com", "message": "Call me about line 5a"}
    assert client.post("/help/offline/", form).status_code == 200
    assert OfflineMessage.objects.get().message == "Call me about line 5a"


@pytest.mark.django_db
def test_it_refuses_sites_not_configured_for_the_queue(client):
    queue = make_queue()
    queue.embedding_origins = "https://taxeasy.example"
    queue.save()
    allowed = client.get(f"/help/?queue={queue.slug}&origin=https://taxeasy.example")
    assert allowed.status_code == 200
    refused = client.get(f"/help/?queue={queue.slug}", HTTP_REFERER="https://evil.example/page")
    assert refused.status_code == 403


@pytest.mark.django_db
def test_it_serves_the_demo_tax_site_only_with_the_demo(client, settings):
    make_queue()
    settings.DEMO_SITE = False  # production's default (DEBUG off)
    assert client.get("/demo/tax-site/").status_code == 404
    settings.DEMO_SITE = True
    assert client.get("/demo/tax-site/").status_code == 200
