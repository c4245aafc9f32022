from celery import shared_task

from ims import direct_calls


@shared_task
def end_stranded_direct_calls() -> int:
    return direct_calls.end_stranded()
