"""backups.dumpers.mysql._covers: a grant's database name is a LIKE pattern, nothing more."""

import pytest

from backups.dumpers.mysql import _covers


@pytest.mark.parametrize(
    "scope, database, covered",
    [
        ("*.*", "ops", True),
        ("`ops`.*", "ops", True),
        ("`ops`.`t`", "ops", True),
        ("`ops`.*", "opsx", False),
        ("`o_s`.*", "ops", True),
        ("`o\\_s`.*", "ops", False),
        ("`o\\_s`.*", "o_s", True),
        ("`o%`.*", "ops", True),
        ("`o\\%`.*", "ops", False),
        # Regex metacharacters are plain characters in LIKE.
        ("`ops.db`.*", "opsxdb", False),
        ("`ops+`.*", "opss", False),
        ("`(ops)`.*", "ops", False),
        ("`(ops)`.*", "(ops)", True),
        ("`ops\\`.*", "ops\\", True),
        # A newline (allowed in a quoted MariaDB name) is a character like any other: it is
        # neither dropped from the pattern nor refused by the wildcards.
        ("`o\nps`.*", "ops", False),
        ("`o\n%`.*", "ox", False),
        ("`o\nps`.*", "o\nps", True),
        ("`o%`.*", "o\nx", True),
        ("`o_s`.*", "o\ns", True),
        ("`o\\\n%`.*", "o\nx", True),
    ],
)
def test_a_grant_covers_what_its_like_pattern_matches(scope, database, covered):
    assert _covers(scope, database) is covered
