import pytest
from django.test import AsyncClient

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")


@pytest.mark.django_db(transaction=True)
async def test_it_reports_database_and_channel_layer_healthy():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": True, "channel_layer": True}


@pytest.mark.django_db(transaction=True)
async def test_it_answers_503_when_the_channel_layer_is_down(settings):
    # A Redis layer pointed at a port where nothing listens.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"] is False
