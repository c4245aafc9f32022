"""axe-core in a Playwright page: WCAG 2.1 A and AA and axe's best practices."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}


def violations(page: Any) -> list[str]:
    found = Axe().run(page, options=RULES).response
    assert found["passes"], "axe checked nothing"
    return [f"{page.url}: {v['id']} {[n['target'] for n in v['nodes']][:3]}" for v in found["violations"]]
