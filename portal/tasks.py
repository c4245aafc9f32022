import os
import socket

from celery import shared_task


@shared_task(ignore_result=False)
def worker_ping() -> dict[str, object]:
    """Answers from whichever worker runs it: health checks and the worker test use it."""
    return {"host": socket.gethostname(), "pid": os.getpid()}
