"""The vendored browser builds of the live ticket page are the npm packages the realtime tests run."""

from __future__ import annotations

import json
import re

from tests.support.processes import REPO

VENDOR = REPO / "helpdesk" / "static" / "helpdesk" / "vendor"
NODE = REPO / "tests" / "realtime" / "js" / "node_modules"


def _without_source_map(text: str) -> str:
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.startswith("//# sourceMappingURL=")
    )


def test_vendored_files_are_the_packages_tests_run_with_the_two_documented_edits():
    readme = (VENDOR / "README.md").read_text()
    for package, built, vendored in (
        ("pusher-js", "dist/web/pusher.min.js", "pusher.min.js"),
        ("laravel-echo", "dist/echo.iife.js", "echo.iife.js"),
    ):
        version = json.loads((NODE / package / "package.json").read_text())["version"]
        assert f"| {package} | {version} |" in readme, (package, version)
        ours = (VENDOR / vendored).read_text()
        upstream = _without_source_map((NODE / package / built).read_text())
        assert "sourceMappingURL" not in ours
        assert ours.endswith(upstream), f"{vendored} is not {package} {version}'s {built}"
        # What comes before the package's text may be its licence header and nothing else: code
        # put there would run on the live page as if it were the library.
        added = ours[: len(ours) - len(upstream)]
        assert added == "" or re.fullmatch(r"/\*!(?:(?!\*/).)*\*/\n", added, re.DOTALL), added[:300]
        licence = VENDOR / f"{vendored}.LICENSE.txt"
        assert "MIT" in added + upstream.split("*/", 1)[0] + (licence.read_text() if licence.exists() else "")
