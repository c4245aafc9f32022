"""Periodic upkeep of identities, run by Celery beat (see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from identity_blocks import actions


@shared_task
def release_due_identities() -> int:
    return actions.release_due_identities()


@shared_task
def expire_ended_blocks() -> int:
    return actions.expire_ended_blocks()


@shared_task
def finish_stuck_deregistrations() -> int:
    return actions.finish_stuck_deregistrations()


@shared_task
def serve_waiting_line() -> int:
    return actions.serve_waiting_line()


@shared_task
def expire_stale_sessions() -> int:
    return actions.expire_stale_sessions()


@shared_task
def rest_due_identities() -> int:
    return actions.rest_due_identities()
