"""Every migration runs on a fresh PostgreSQL database, and none is missing."""

import subprocess
import uuid

import psycopg
import pytest

from tests.support.processes import manage, portal_env


@pytest.fixture
def fresh_database(postgres_admin_url):
    name = "portal_migrate_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_it_migrates_a_fresh_postgresql_database(fresh_database):
    env = portal_env(DATABASE_URL=fresh_database)
    subprocess.run(manage("migrate", "--noinput", "-v0"), env=env, check=True)
    with psycopg.connect(fresh_database) as db:
        applied = db.execute("SELECT count(*) FROM django_migrations").fetchone()
    assert applied is not None
    assert applied[0] > 0
    shown = subprocess.run(manage("showmigrations", "--plan"), env=env, check=True, capture_output=True, text=True)
    assert "[ ]" not in shown.stdout


def test_it_has_no_model_change_without_a_migration():
    check = subprocess.run(manage("makemigrations", "--check", "--dry-run"), env=portal_env(), capture_output=True)
    assert check.returncode == 0, check.stdout.decode()
