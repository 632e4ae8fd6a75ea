"""Build every generated file in memory, then write it (atomically, stale files removed) or compare it."""

from __future__ import annotations

import os
import tempfile

from etcdctl_py.docgen import completions, man, model, reference

# Directories owned entirely by the generator: a file here that the trees no longer produce is stale.
OWNED = {"completions": "", "man": ".1", "docs/reference": ".md"}


def default_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate() -> dict[str, str]:
    """{relative path: content} for completions/, man/ and docs/reference/, from the live command trees."""
    programs = model.programs()
    files: dict[str, str] = {}
    files.update(completions.outputs(programs))
    files.update(man.outputs(programs))
    files.update(reference.outputs(programs))
    return dict(sorted(files.items()))


def _owned_files(root: str) -> set[str]:
    out = set()
    for d, suffix in OWNED.items():
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for name in os.listdir(full):
            if os.path.isfile(os.path.join(full, name)) and name.endswith(suffix):
                out.add(f"{d}/{name}")
    return out


def check(root: str, files: dict[str, str]) -> list[str]:
    problems = []
    for rel, content in files.items():
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() != content:
                    problems.append(f"differs: {rel}")
        except FileNotFoundError:
            problems.append(f"missing: {rel}")
    for rel in sorted(_owned_files(root) - set(files)):
        problems.append(f"stale: {rel}")
    return problems


def write(root: str, files: dict[str, str]) -> tuple[int, int]:
    """Write changed files (temp file + fsync + rename, so a reader never sees half a page); drop stale ones."""
    written = 0
    for rel, content in files.items():
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == content:
                    continue
        except FileNotFoundError:
            pass  # a new file: written below
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".docgen-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        written += 1
    stale = _owned_files(root) - set(files)
    for rel in stale:
        os.unlink(os.path.join(root, rel))
    return written, len(stale)
