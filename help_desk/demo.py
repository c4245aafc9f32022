"""The demo's accounts. Passwords are fixed and printed: the demo listens on loopback only."""

from __future__ import annotations

from io import BytesIO

from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

DEMO_ACCOUNTS = [
    # username, password, is_staff/superuser, groups, the name customers read
    ("admin", "admin-demo", True, [], ("", "")),
    ("advisor", "advisor-demo", False, ["advisors"], ("Alex", "Weber")),
    ("sam", "sam-demo", False, ["advisors"], ("Sam", "Berg")),
    ("mary", "mary-demo", False, [], ("Mary", "Major")),
]
# What the demo's log-ins are for, and where to go with them.
ROLES = {
    "admin": "the admin, /admin/",
    "advisor": "the advisor's desk, /desk/",
    "sam": "a second advisor's desk (to transfer to), /desk/",
    "mary": "Mary's page (H.4), /identity/",
}


CANNED_REPLIES = [
    ("Greeting", "Hello, I am happy to help with your tax return. What is your question?"),
    ("Pensions", "Pensions and annuities go on line 5a; the taxable part of them on line 5b."),
    ("Goodbye", "Thank you for asking. Good luck with your return!"),
]


def _account(username: str, password: str, admin: bool, groups: list[str], full_name: tuple[str, str]) -> User:
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.is_staff = user.is_superuser = admin
        user.first_name, user.last_name = full_name
        user.save()
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def _logo() -> ContentFile[bytes]:
    """The sample tax site's mark, a tick in a navy disc, as an uploaded logo would be."""
    image = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((2, 2, 78, 78), fill="#223344", outline="#ffffff", width=3)
    draw.line([(22, 42), (35, 56), (59, 26)], fill="#ffffff", width=8)
    buffer = BytesIO()
    image.save(buffer, "PNG")
    return ContentFile(buffer.getvalue(), name="taxeasy.png")


def seed() -> list[str]:
    from help_desk.models import Advisor, CannedReply, Queue
    from identity_blocks.models import IdentityBlock

    block = IdentityBlock.objects.select_related("agreement").get(name="Help desk identities")
    queue, created = Queue.objects.get_or_create(
        slug="tax-help",
        defaults={"name": "Tax help", "agreement": block.agreement, "identity_block": block,
                  "embedding_origins": "http://127.0.0.1:8000 http://localhost:8000",
                  "display_name": "TaxEasy help"},
    )  # fmt: skip
    if created:
        queue.logo.save("taxeasy.png", _logo())
    for title, text in CANNED_REPLIES:
        CannedReply.objects.get_or_create(queue=queue, title=title, defaults={"text": text})
    lines = [f"Help-desk queue: {queue.name} ({queue.slug}); Jane presses HELP on the tax site, /demo/tax-site/"]
    lines.append("Demo log-ins:")
    for username, password, admin, groups, name in DEMO_ACCOUNTS:
        user = _account(username, password, admin, groups, name)
        if "advisors" in groups:
            Advisor.objects.get_or_create(user=user)[0].queues.add(queue)
        lines.append(f"  {username:10} password {password:14} {ROLES[username]}")
    return lines
