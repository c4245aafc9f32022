"""Shared by the benchmarks: a scratch PostgreSQL database, results, the table and plots."""

from __future__ import annotations

import json
import os
import platform
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline_value if self.baseline_value else None


def check(condition: bool, failure: str) -> None:
    """A figure from a run that went wrong is no figure: stop the benchmark."""
    if not condition:
        raise RuntimeError(failure)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(ordered: list[float], share: float) -> float:
    """The value below which `share` of the sorted, non-empty `ordered` lies (nearest rank)."""
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/portal"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards."""
    import psycopg

    admin = postgres_url().rsplit("/", 1)[0] + "/postgres"
    name = "portal_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write(results: list[Result]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "latest.json"
    payload = {"machine": machine(), "results": [asdict(r) | {"ratio": r.ratio} for r in results]}
    path.write_text(json.dumps(payload, indent=2))
    return path


def table(results: list[Result]) -> str:
    rows = [("benchmark", "metric", "value", "baseline", "ratio", "target")]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        base = f"{r.baseline} {r.baseline_value:,.0f}" if r.baseline_value is not None else ""
        rows.append((r.benchmark, r.metric, f"{r.value:,.1f} {r.unit}", base, ratio, r.target))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pyplot() -> Any:
    """matplotlib's pyplot on a backend that needs no screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def plot(results: list[Result]) -> Path:
    plt = pyplot()
    measured = [r for r in results if r.ratio is not None]
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.45 * max(1, len(measured))))
    labels = [f"{r.benchmark}\n{r.metric} (vs {r.baseline})" for r in measured]
    ratios = [r.ratio or 0 for r in measured]
    bars = ax.barh(labels, ratios, color="#1f5eff")
    ax.bar_label(bars, labels=[f"{ratio:.2f}" for ratio in ratios], padding=3, fontsize=8)
    ax.set_xscale("log")  # ratios from 0.3 to a few hundred: only a log axis shows them all
    ax.axvline(1.0, color="#888", linestyle="--")
    ax.set_xlabel("ratio to the baseline measured in the same run (log scale; 1 = equal)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return save(fig, "ratios.png")
