"""The command lines of runbooks/*.md, and what each one runs.

Every line of a ```sh block is one command (backslash continuations joined, trailing
comments dropped). Its program is the first word after `sudo [-u USER]` and leading
VAR=value assignments; a pipeline's later stages are programs too.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from infrakit.plan.sources import PROJECT_ROOT

RUNBOOKS = PROJECT_ROOT / "runbooks"
_BLOCK = re.compile(r"^[ \t]*```sh\n(.*?)^[ \t]*```", re.S | re.M)
_ASSIGN = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class RunbookLine:
    runbook: str  # file name
    line: str  # the command as written, comment dropped

    def stages(self) -> list[list[str]]:
        """The pipeline's stages as argv lists (quotes resolved)."""
        stages: list[list[str]] = [[]]
        lexer = shlex.shlex(self.line, posix=True, punctuation_chars="|&;")
        lexer.whitespace_split = True
        for word in lexer:
            if word in {"|", "&&", ";", "||"}:
                stages.append([])
            else:
                stages[-1].append(word)
        return [s for s in stages if s]

    def programs(self) -> list[str]:
        found = []
        for argv in self.stages():
            words = list(argv)
            while words and _ASSIGN.match(words[0]):
                words.pop(0)
            if words[:1] == ["sudo"]:
                words.pop(0)
                if words[:1] == ["-u"]:
                    words = words[2:]
                while words and _ASSIGN.match(words[0]):
                    words.pop(0)
            if words:
                found.append(words[0])
        return found


def _strip_comment(line: str) -> str:
    """Drop a trailing `# ...` that is outside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def runbook_lines(folder: Path = RUNBOOKS) -> list[RunbookLine]:
    lines: list[RunbookLine] = []
    for path in sorted(folder.glob("*.md")):
        for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
            joined = re.sub(r"\\\n\s*", " ", block)
            for raw in joined.splitlines():
                line = _strip_comment(raw.strip())
                if line:
                    lines.append(RunbookLine(path.name, line))
    return lines
