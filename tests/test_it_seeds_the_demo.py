import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command


@pytest.mark.django_db
def test_it_seeds_log_ins_that_work_and_reuses_them_on_the_next_run(capsys, settings):
    settings.DEBUG = True  # the demo runs with DEBUG; pytest-django turns it off
    call_command("seed_demo")
    call_command("seed_demo")
    printed = capsys.readouterr().out
    assert User.objects.filter(username="admin", is_superuser=True).count() == 1
    assert authenticate(username="admin", password="admin-demo") is not None
    assert authenticate(username="advisor", password="advisor-demo") is not None
    assert "admin-demo" in printed
    assert "advisor-demo" in printed


@pytest.mark.django_db
def test_it_refuses_to_seed_well_known_passwords_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
