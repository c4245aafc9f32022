from celery import shared_task

from help_desk import actions


@shared_task
def expire_rings() -> int:
    return actions.expire_rings()
