"""Schemathesis against the portal's own OpenAPI schema (/api/schema/): requests generated for
every operation, as a staff user with every permission, over rows that exist. None is answered
with a 5xx: what the API cannot do is a 4xx saying why."""

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityBlock, Operator, ServiceAgreement
from tests.factories import make_block, make_user

CSRF = "a" * 32  # the same secret as cookie and header: what a browser with the page's token sends


@pytest.fixture
def admin_session(transactional_db: Any) -> dict[str, str]:
    block = make_block(5)
    make_block(5, agreement=block.agreement, pattern="sip:desk-{n:03d}@help.ims.example.net")
    actions.assign_identity(Holder.member(make_user("jane")))  # a block that has served
    client = Client()
    client.force_login(make_user("admin", staff=True))
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


# Loaded through the application (no database needed for the schema itself).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@schema.parametrize()
# Derandomized: the same requests every run, so CI is not decided by chance.
@settings(
    max_examples=25, deadline=None, derandomize=True, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
)
def test_it_answers_no_generated_request_with_a_5xx(case: Any, admin_session: dict[str, str]) -> None:
    send = {"cookies": admin_session, "headers": {"X-CSRFToken": CSRF}, "checks": [not_a_server_error]}
    case.call_and_validate(**send)
    if "id" in (case.path_parameters or {}):  # and the same request on a row that exists
        case.path_parameters["id"] = _existing(case.path)
        case.call_and_validate(**send)


def _existing(path: str) -> int:
    rows = {"/api/operators/": Operator, "/api/agreements/": ServiceAgreement, "/api/blocks/": IdentityBlock}
    model = next(model for prefix, model in rows.items() if path.startswith(prefix))
    return int(model._default_manager.order_by("?").values_list("pk", flat=True).first() or 1)
