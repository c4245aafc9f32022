"""A Celery task executed by a real worker process on the Redis broker."""

import uuid

from celery import Celery

from tests.support.processes import portal_env, python, running


def test_it_runs_a_task_on_a_worker_process(redis_url, tmp_path):
    queue = "test-" + uuid.uuid4().hex[:10]
    env = portal_env(REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}")
    argv = python("-m", "celery", "-A", "portal", "worker", "-Q", queue, "-n", f"{queue}@%h", "--pool=solo")
    argv += ["--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel=INFO"]
    with running(argv, env, tmp_path / "worker.log") as worker:
        client = Celery(broker=redis_url, backend=redis_url)
        result = client.send_task("portal.tasks.worker_ping", queue=queue)
        answer = result.get(timeout=60)
    # With the solo pool the task runs inside the worker process itself.
    assert answer["pid"] == worker.pid
