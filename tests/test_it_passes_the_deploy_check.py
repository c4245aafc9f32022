"""`manage.py check --deploy` is clean under production settings; bad production config fails loudly."""

import subprocess

from tests.support.processes import manage, portal_env

PRODUCTION = dict(
    DEBUG="false",
    SECRET_KEY="k3v!Q9zr-production-like-secret-for-tests-0123456789abcdefXYZ",
    ALLOWED_HOSTS="portal.example.com",
    DATABASE_URL="postgres://portal@db.example.com:5432/portal",
    REDIS_URL="redis://redis.example.com:6379/0",
    IMS_OUTBOUND_PROXY="sip:pcscf.operator.example;transport=tcp",
)


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    argv = manage("check", "--deploy", "--fail-level", "WARNING")
    return subprocess.run(argv, env=portal_env(**env), capture_output=True, text=True)


def test_it_passes_check_deploy_in_production_settings():
    result = _check(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_without_a_secret_key_in_production():
    result = _check(**{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_refuses_a_malformed_variable_by_name():
    result = _check(**{**PRODUCTION, "IMS_SHARD_COUNT": "two"})
    assert result.returncode != 0
    assert "IMS_SHARD_COUNT='two': expected an integer" in result.stderr
