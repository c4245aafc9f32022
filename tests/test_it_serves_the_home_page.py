def test_it_shows_the_help_button_on_the_home_page(client):
    page = client.get("/").content.decode()
    assert 'id="help-button"' in page
    assert 'href="/help/"' in page


def test_it_offers_every_way_to_get_help(client):
    page = client.get("/help/").content.decode()
    for value in ("chat", "voice", "video", "secure", "unsecured"):
        assert f'value="{value}"' in page


def test_it_sends_security_headers(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
