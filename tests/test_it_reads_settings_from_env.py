import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    check_redis_url,
    env_address,
    env_bool,
    env_choice,
    env_fernet_key,
    env_int,
    env_list,
    env_networks,
    env_origins,
    parse_database_url,
)


def test_it_reads_typed_values(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    monkeypatch.setenv("COUNT", "42")
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_bool("FLAG", False) is True
    assert env_int("COUNT", 1, minimum=1) == 42
    assert env_list("HOSTS") == ["a.example", "b.example"]
    assert env_bool("UNSET_FLAG", True) is True
    monkeypatch.setenv("NG", "[::1]:2223")
    assert env_address("NG") == ("::1", 2223)
    assert env_address("UNSET_NG") is None
    monkeypatch.setenv("PEERS", "192.0.2.10, 198.51.100.0/24,2001:db8::/32")
    assert env_networks("PEERS") == ["192.0.2.10", "198.51.100.0/24", "2001:db8::/32"]
    assert env_networks("UNSET_PEERS") == []
    monkeypatch.setenv("EMBEDDERS", "https://tax.example.com, http://127.0.0.1:8000")
    assert env_origins("EMBEDDERS") == ["https://tax.example.com", "http://127.0.0.1:8000"]


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("FLAG", "maybe", lambda: env_bool("FLAG", False)),
        ("COUNT", "ten", lambda: env_int("COUNT", 1)),
        ("COUNT", "0", lambda: env_int("COUNT", 1, minimum=1)),
        ("MODE", "carrier-pigeon", lambda: env_choice("MODE", "udp", ("udp", "tcp"))),
        ("NG", "127.0.0.1", lambda: env_address("NG")),
        ("NG", "127.0.0.1:99999", lambda: env_address("NG")),
        ("KEY", "not-a-key", lambda: env_fernet_key("KEY")),
        ("PEERS", "192.0.2.10, pcscf.example", lambda: env_networks("PEERS")),
        ("EMBEDDERS", "tax.example.com", lambda: env_origins("EMBEDDERS")),
        ("EMBEDDERS", "https://tax.example.com/help", lambda: env_origins("EMBEDDERS")),
        ("EMBEDDERS", "https://*.example.com", lambda: env_origins("EMBEDDERS")),
    ],
)
def test_it_fails_loudly_on_bad_values(monkeypatch, name, value, read):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        read()


def test_it_parses_database_urls():
    pg = parse_database_url("DATABASE_URL", "postgres://u:p%40ss@db.example:6543/portal?sslmode=require")
    assert (pg.engine, pg.name, pg.user, pg.password, pg.host, pg.port) == (
        "django.db.backends.postgresql",
        "portal",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    assert pg.options == {"sslmode": "require"}
    assert parse_database_url("DATABASE_URL", "sqlite:////tmp/x.db").name == "/tmp/x.db"


@pytest.mark.parametrize(
    "url",
    ["mysql://x/y", "postgres://host/", "sqlite://", "postgres://h:port/db"],
)
def test_it_rejects_unusable_database_urls(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", url)


def test_it_rejects_a_non_redis_url():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        check_redis_url("REDIS_URL", "http://127.0.0.1:6379")
