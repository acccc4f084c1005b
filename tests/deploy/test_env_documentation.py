"""docs/PRODUCTION_ENV.md lists exactly what settings read; the env template sets what is required."""

import ast
import json
import os
import re
import subprocess
from functools import cache

from tests.support.processes import PYTHON, REPO

SETTINGS = REPO / "opsproject" / "settings.py"
DOC = REPO / "docs" / "PRODUCTION_ENV.md"
TEMPLATE = REPO / "compose" / "production.env.example"
NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")


# Imports settings with a recording environment and prints every name it looked up: this finds
# names built at run time (f-strings), which reading the source cannot.
RECORDER = """
import json, os, environ
class Recording(dict):
    seen = set()
    def __getitem__(self, key):
        Recording.seen.add(key)
        return super().__getitem__(key)
    def get(self, key, default=None):
        Recording.seen.add(key)
        return super().get(key, default)
    def __contains__(self, key):
        Recording.seen.add(key)
        return super().__contains__(key)
environ.Env.ENVIRON = Recording(os.environ)
try:
    import opsproject.settings
finally:
    print(json.dumps(sorted(Recording.seen)))
"""
# Profiles that between them take every branch of settings.py.
PROFILES = [
    {"DATABASE_URL": "", "REDIS_URL": ""},
    {"DATABASE_URL": "mysql://u@h/db", "REDIS_URL": "redis://h:6379/0", "BACKUP_S3_BUCKET": "b"},
    {"DJANGO_ENV": "production", "DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h:6379/0"},
]


@cache
def read_at_run_time() -> frozenset[str]:
    names = set()
    for profile in PROFILES:
        env = {k: v for k, v in os.environ.items() if not NAME.match(k) or k in ("PATH", "HOME")}
        done = subprocess.run(
            [PYTHON, "-c", RECORDER],
            cwd=REPO,
            env={**env, **profile},
            capture_output=True,
            text=True,
            timeout=60,
        )
        names |= {n for n in json.loads(done.stdout.strip().splitlines()[-1]) if NAME.match(n)}
    return frozenset(names)


def read_by_settings() -> set[str]:
    return read_in_source() | read_at_run_time()


def read_in_source() -> set[str]:
    """Names passed first to env.*() or to a settings helper (_value, _required, ...)."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and NAME.match(first.value)):
            continue
        func = node.func
        reads_env = (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        helper = isinstance(func, ast.Name) and func.id.startswith("_")
        if reads_env or helper:
            names.add(first.value)
    return names


def documented() -> set[str]:
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", DOC.read_text(), flags=re.M))


def test_the_scan_finds_the_variables_it_must():
    expected = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "BEAT_LOCK_TTL"}
    assert expected <= read_by_settings()


def test_every_variable_settings_read_is_documented():
    missing = read_by_settings() - documented()
    assert not missing, f"read by settings but not in docs/PRODUCTION_ENV.md: {sorted(missing)}"


def test_every_documented_variable_is_read():
    stale = documented() - read_by_settings()
    assert not stale, f"documented in docs/PRODUCTION_ENV.md but read by nobody: {sorted(stale)}"


def test_the_production_template_sets_every_required_variable():
    env = {k: v for k, v in os.environ.items() if not NAME.match(k) or k in ("PATH", "HOME")}
    env["DJANGO_ENV"] = "production"
    done = subprocess.run(
        [PYTHON, "-c", "import opsproject.settings"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"missing required variables: ([A-Z0-9_, ]+)", done.stderr)
    assert match, done.stderr
    required = {name.strip() for name in match[1].split(",")}
    template = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", TEMPLATE.read_text(), flags=re.M))
    assert required <= template, f"required but not in the template: {sorted(required - template)}"
