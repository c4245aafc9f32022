"""The chat benchmarks' saturation search decides each rate on a 4 s p99. A step that misses the
bound narrowly, losing nothing, is measured as long again and decided on both parts together, so
one pause of one process does not cut a held rate by a third; a clear failure is not repeated."""

from __future__ import annotations

from bench import load


def step(rate: float, late_ms: list[float], on_time: int = 990, lost: int = 0) -> load.Step:
    latencies = [0.010] * on_time + [ms / 1000 for ms in late_ms]
    return load.Step(rate, len(latencies) + lost, len(latencies), 4.0, latencies)


class Scripted(load.Traffic):
    """The steps a server would give, in order, for whatever rates the search asks."""

    def __init__(self, steps: list[load.Step]) -> None:
        super().__init__([], lambda frame: None)
        self.script: list[load.Step] = steps
        self.asked: list[float] = []

    async def step(self, rate: float, seconds: float) -> load.Step:
        self.asked.append(rate)
        scripted = self.script.pop(0)
        scripted.offered = rate
        return scripted

    async def settle(self, seconds: float = 1.0) -> None:
        pass


async def test_it_measures_a_narrow_miss_again() -> None:
    paused = step(100, [150.0] * 15)  # p99 150 ms: 15 of 1,005 late, one pause
    calm = step(100, [50.0] * 15)  # the next 4 s at that rate
    traffic = Scripted([paused, calm, step(200, [900.0] * 40), *[step(0, [900.0] * 40)] * 3])
    best, steps = await load.saturate(traffic, 100, log=lambda line: None)
    assert traffic.asked[:3] == [100, 100, 200]
    assert best is not None
    assert best.offered == 100
    assert best.sent == 2010
    assert best.p99 < 100
    assert len(steps) == 5  # the two parts are one step


async def test_it_does_not_repeat_a_clear_failure() -> None:
    overloaded = step(100, [900.0] * 40)  # p99 900 ms
    lossy = step(100, [50.0] * 15, lost=3)  # fast, but messages lost
    traffic = Scripted([step(50, [20.0]), overloaded, *[lossy] * 3])
    best, _ = await load.saturate(traffic, 50, log=lambda line: None)
    assert traffic.asked[:2] == [50, 100]
    assert len(traffic.asked) == 5  # the doubling's two steps and three bisections, none repeated
    assert best is not None
    assert best.offered == 50


async def test_it_keeps_a_rate_that_fails_again() -> None:
    twice = [step(100, [150.0] * 15), step(100, [150.0] * 15)]
    traffic = Scripted([step(50, [20.0]), *twice, *[step(0, [900.0] * 40)] * 3])
    best, _ = await load.saturate(traffic, 50, log=lambda line: None)
    assert traffic.asked[:3] == [50, 100, 100]
    assert best is not None
    assert best.offered == 50
