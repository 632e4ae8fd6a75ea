"""The generated-argv differences that docs/compatibility.md allows, one rule per documented difference.

Each rule names the section and the row text of docs/compatibility.md it stands for (test_fuzz_argv_diff checks
that the text is there), and matches a case by its arguments and stdin: a difference in such a case is expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    section: str  # a `## ` heading of docs/compatibility.md
    row: str  # text found in that section
    matches: Callable[[list[str], bytes], bool]


def _txn_single_quotes(argv: list[str], stdin: bytes) -> bool:
    return any(a.startswith("txn") for a in argv) and b"'" in stdin


_COMPARE_OP = re.compile(rb'^\s*\w+\("[^\n]*"\)\s*(\S+)', re.M)


def _txn_unknown_operator(argv: list[str], stdin: bytes) -> bool:
    return any(a.startswith("txn") for a in argv) and any(
        op not in (b"=", b"!=", b">", b"<") for op in _COMPARE_OP.findall(stdin.split(b"\n\n", 1)[0])
    )


def _auth_name_not_utf8(argv: list[str], stdin: bytes) -> bool:
    """A user or role verb (or a prefix cobra resolves to one) with bytes that are not UTF-8."""
    verb = any(len(a) >= 2 and ("user".startswith(a) or "role".startswith(a)) for a in argv)
    try:
        stdin.decode("utf-8")
    except UnicodeDecodeError:
        return verb
    return verb and any("\udc80" <= ch <= "\udcff" for a in argv for ch in a)


RULES = [
    Rule("Deliberate differences", "User names, role names and passwords that are not UTF-8", _auth_name_not_utf8),
    Rule(
        "Where etcdctl crashes or misbehaves, we print an error",
        "`txn` compare with an unknown operator",
        _txn_unknown_operator,
    ),
    Rule(
        "Where etcdctl crashes or misbehaves, we print an error",
        "`txn` op with single-quoted values",
        _txn_single_quotes,
    ),
]


def allowed(argv: list[str], stdin: bytes) -> Rule | None:
    """The rule that allows a difference for this case, if any."""
    for rule in RULES:
        if rule.matches(argv, stdin):
            return rule
    return None
