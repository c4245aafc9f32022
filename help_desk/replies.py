"""The advisor's reply to a message left on the help page, by e-mail (Django's e-mail backend),
with her own message quoted under it."""

from __future__ import annotations

from django.core.mail import send_mail
from django.utils import timezone

from help_desk.models import OfflineMessage


def text(message: OfflineMessage) -> str:
    written = timezone.localtime(message.created_at)
    quoted = "\n".join(f"> {line}" for line in message.message.splitlines())
    return f"{message.reply}\n\n-- \nOn {written:%Y-%m-%d %H:%M} you wrote to {message.queue.shown_name}:\n{quoted}\n"


def mail(message_id: int) -> None:
    message = OfflineMessage.objects.select_related("queue").get(pk=message_id)
    send_mail(f"{message.queue.shown_name}: a reply to your message", text(message), None, [message.email])
