"""Loading a mariadb-dump as another user: DEFINER clauses become CURRENT_USER on the way in.

Defining objects for someone else needs SET USER; restores load with least privilege instead.
Only the lines that start such a definition are looked at; data lines pass untouched.
"""

from __future__ import annotations

import re

# How mariadb-dump starts each definition that carries a definer.
STARTS = (
    b"/*!50003 CREATE*/ /*!50017 DEFINER=",  # trigger
    b"/*!50013 DEFINER=",  # view (its own line after CREATE ALGORITHM=...)
    b"CREATE DEFINER=",  # function, procedure
    b"/*!50106 CREATE*/ /*!50117 DEFINER=",  # event
)
_LONGEST = max(len(start) for start in STARTS)
_CLAUSE = re.compile(rb"DEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`")
# A definition's first line is short; past this much it is data and passes through.
_HOLD_LIMIT = 1024 * 1024


def rewrite_line(line: bytes) -> bytes:
    """`line` with its DEFINER clause replaced, if it starts a definition; else unchanged."""
    if line.startswith(STARTS):
        return _CLAUSE.sub(b"DEFINER=CURRENT_USER", line, count=1)
    return line


def _may_start(head: bytes) -> bool:
    return any(start.startswith(head[: len(start)]) or head.startswith(start) for start in STARTS)


class DefinerRewriter:
    """A writer in front of `sink` (a loader's stdin); call close() to flush the last line."""

    def __init__(self, sink):
        self.sink = sink
        self.line = b""  # the start of the current line, while it may begin a definition
        self.passing = False  # the current line is known not to begin one

    def write(self, data: bytes) -> int:
        view, position, out = memoryview(data), 0, []
        while position < len(data):
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline + 1
            if self.passing:
                out.append(view[position:end])
            else:
                self.line += data[position:end]
                complete = newline >= 0
                if complete or not _may_start(self.line) or len(self.line) > _HOLD_LIMIT:
                    out.append(rewrite_line(self.line) if complete else self.line)
                    self.passing, self.line = not complete, b""
                elif len(self.line) >= _LONGEST and not self.line.startswith(STARTS):
                    out.append(self.line)
                    self.passing, self.line = True, b""
            if newline >= 0:
                self.passing = False
            position = end
        # One write per chunk, as without the rewriter: the loader's pipe sees the same pattern.
        if len(out) == 1:
            self.sink.write(out[0])
        elif out:
            self.sink.write(b"".join(out))
        return len(data)

    def close(self) -> None:
        if self.line:
            self.sink.write(rewrite_line(self.line))
            self.line = b""
