"""Every migration runs on a fresh PostgreSQL database, and none is missing."""

import subprocess

import psycopg

from tests.support.processes import manage, portal_env


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
