from celery import shared_task

from help_desk import presence, replies, routing_actions, transcripts


@shared_task
def expire_rings() -> int:
    return routing_actions.expire_rings()


@shared_task
def offer_again() -> int:
    return routing_actions.offer_again()


@shared_task
def sweep_presence() -> int:
    return presence.sweep()


@shared_task
def mail_transcript(request_id: int, address: str) -> None:
    transcripts.mail(request_id, address)


@shared_task
def mail_offline_reply(message_id: int) -> None:
    replies.mail(message_id)
