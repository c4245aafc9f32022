"""sipp's own built-in scenarios (`-sn uac`, `-sn uas`): phones written by others, with their habits.

The built-in `uac` calls sip:<service>@<proxy> and puts the proxy's address in To too; the built-in
`uas` answers without copying Record-Route into its 200. What they received is kept in
`<scenario>-<port>.msg`, read with `received`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support.services import require_binary


async def builtin(
    scenario: str, *, core_port: int, local_port: int, workdir: Path, service: str = "service", timeout: int = 20
) -> asyncio.subprocess.Process:
    """One call of the built-in `scenario` against the core on `core_port`."""
    argv = [require_binary("sipp"), f"127.0.0.1:{core_port}", "-sn", scenario, "-s", service, "-m", "1"]
    argv += ["-p", str(local_port), "-i", "127.0.0.1", "-nostdin", "-timeout", f"{timeout}s", "-timeout_error"]
    argv += ["-trace_err", "-error_file", str(workdir / f"{scenario}-{local_port}.err")]
    argv += ["-trace_msg", "-message_file", str(workdir / f"{scenario}-{local_port}.msg")]
    return await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


# Each message in sipp's -trace_msg file follows a line naming its direction and size.
_ENTRY = re.compile(r"message (received|sent)[^\n]*\n\n(.*?)(?=\n-{10,} |\Z)", re.DOTALL)


def received(trace: Path, start: str) -> list[str]:
    """The messages sipp received whose first line starts with `start` ("ACK ", "SIP/2.0 603")."""
    return _messages(trace, "received", start)


def sent(trace: Path, start: str) -> list[str]:
    """The messages sipp sent whose first line starts with `start`."""
    return _messages(trace, "sent", start)


def _messages(trace: Path, way: str, start: str) -> list[str]:
    entries = _ENTRY.findall(trace.read_text(errors="replace"))
    return [body for direction, body in entries if direction == way and body.startswith(start)]


async def until_received(trace: Path, start: str, count: int = 1, timeout: float = 5.0) -> None:
    """Until sipp has received `count` messages starting with `start`. A proxy with several workers
    may reorder two requests sent moments apart (an ACK and a BYE); a phone strict about order
    would take that for an error."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (trace.exists() and len(received(trace, start)) >= count):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"sipp did not receive {count} {start!r} within {timeout} s")
        await asyncio.sleep(0.05)
