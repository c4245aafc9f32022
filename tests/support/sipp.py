"""sipp (Debian's sip-tester) as a non-WebRTC IMS endpoint, running the scenarios in tests/sipp/."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.services import require_binary

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"


async def sipp(
    scenario: str, *, core_port: int, local_port: int, service: str, fields: list[str], workdir: Path,
    auth: tuple[str, str] | None = None, status: int = 200, timeout: int = 20, rows: list[list[str]] | None = None,
    extra: tuple[str, ...] = (), trace: bool = True,
) -> asyncio.subprocess.Process:  # fmt: skip
    """Start sipp for `scenario`: one call filling [field0], [field1], ... from `fields`, or one call
    per row of `rows` (with `extra` options such as a rate)."""
    binary = require_binary("sipp")
    text = (SCENARIOS / f"{scenario}.xml").read_text().replace("@STATUS@", str(status))
    path = workdir / f"{scenario}-{local_port}.xml"
    path.write_text(text)
    values = workdir / f"{scenario}-{local_port}.csv"
    rows = rows or [fields]
    values.write_text("SEQUENTIAL\n" + "".join(";".join(row) + ";\n" for row in rows))
    argv = [binary, f"127.0.0.1:{core_port}", "-sf", str(path), "-inf", str(values), "-m", str(len(rows)), *extra]
    argv += ["-p", str(local_port), "-i", "127.0.0.1", "-s", service, "-nostdin", "-timeout", f"{timeout}s"]
    argv += ["-timeout_error", "-trace_err", "-error_file", str(workdir / f"{scenario}-{local_port}.err")]
    if trace:  # every message sipp sent and received, for reading after a failure
        argv += ["-trace_msg", "-message_file", str(workdir / f"{scenario}-{local_port}.msg")]
    if auth:
        argv += ["-au", auth[0], "-ap", auth[1]]
    return await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


async def finished(process: asyncio.subprocess.Process, workdir: Path, timeout: float = 30) -> None:
    _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    if process.returncode != 0:
        errors = "\n".join(p.read_text(errors="replace")[-2000:] for p in workdir.glob("*.err"))
        raise AssertionError(f"sipp exited {process.returncode}: {stderr.decode()[-1000:]}\n{errors}")
