import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

from help_desk.models import Queue
from identity_blocks.models import IdentityBlock, Operator, ServiceAgreement


@pytest.mark.django_db
def test_it_seeds_log_ins_that_work_and_reuses_them_on_the_next_run(capsys, settings):
    settings.DEBUG = True  # the demo runs with DEBUG; pytest-django turns it off
    call_command("seed_demo")
    call_command("seed_demo")
    printed = capsys.readouterr().out
    assert User.objects.filter(username="admin", is_superuser=True).count() == 1
    logging_in = RequestFactory().post("/accounts/login/")  # as the log-in page asks, with its request
    assert authenticate(logging_in, username="admin", password="admin-demo") is not None
    assert authenticate(logging_in, username="advisor", password="advisor-demo") is not None
    assert authenticate(logging_in, username="mary", password="mary-demo") is not None
    assert authenticate(logging_in, username="sam", password="sam-demo") is not None  # to transfer to
    for where in ("/demo/tax-site/", "/desk/", "/identity/", "/admin/"):
        assert where in printed
    assert "admin-demo" in printed
    assert "advisor-demo" in printed
    assert (Operator.objects.count(), ServiceAgreement.objects.count(), IdentityBlock.objects.count()) == (1, 1, 1)
    assert Queue.objects.get().identity_block == IdentityBlock.objects.get()
    assert Queue.objects.get().canned_replies.count() == 3  # seeded once, however many runs


@pytest.mark.django_db
def test_it_refuses_to_seed_well_known_passwords_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
