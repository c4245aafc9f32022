"""Servers freeze what they made at start-up out of the garbage collector and collect young
objects less often (portal.runtime): full collections over thousands of sockets took longer than
the chat's latency budget. Both server entry points do it."""

import gc
import subprocess
import sys

from portal.runtime import YOUNG_THRESHOLD, tune_gc


def test_it_freezes_start_up_objects_and_collects_young_ones_less_often():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 1000
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_it_is_done_by_the_asgi_entry_point():
    code = "import gc, portal.asgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    env_code = "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings'); " + code
    out = subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(YOUNG_THRESHOLD), "True"]
