"""Our extras, visible from a terminal without changing 3.5.1's help text.

`etcdctl-py help extras` / `etcdutl-py help extras` list every hidden flag and hidden command of the command
trees, one line each with its description; with ETCDCTL_PY_EXTRAS=1 a command's --help adds its own extras in
sections of their own, and without it (or with 0) --help is byte for byte the real tool's (also checked for every
command by test_help_diff.py / test_etcdutl.py).
"""

from __future__ import annotations

import re

import pytest

from etcdctl_py.cli import etcdutl
from etcdctl_py.cli.root import build_root
from tests import difftest, etcdproc

OURS_UTL = [difftest.ETCDCTL_PY[0], "-m", "etcdctl_py.cli.etcdutl"]
_ROW = re.compile(r"^  (\S.*?)  +(\S.*)$")
EXTRA_SECTION = ("EXTRA OPTIONS (", "EXTRA COMMANDS (", "Extra Flags (")


def _hidden_in_tree(root, upstream_hidden=lambda c: False) -> dict[str, str]:
    """{"<command path> --<flag>" or "<command path>": description} for every hidden flag and command."""
    found: dict[str, str] = {}

    def walk(cmd, path: list[str]) -> None:
        if cmd.hidden:
            found[" ".join(path)] = cmd.short
        for f in cmd.local_flags(with_help=False):
            if f.hidden or cmd.hidden:
                found[" ".join([*path, f"--{f.name}"])] = f.usage
        for sub in cmd.sorted_commands():
            if not sub.is_help_command and not upstream_hidden(sub):
                walk(sub, [*path, sub.name])

    walk(root, [])
    return found


def _listed(stdout: bytes) -> dict[str, str]:
    rows = {}
    for line in stdout.decode().splitlines():
        m = _ROW.match(line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


@pytest.mark.parametrize("prog", ["etcdctl-py", "etcdutl-py"])
def test_help_extras_lists_every_hidden_flag_and_command(prog):
    if prog == "etcdctl-py":
        root, argv, upstream_hidden = build_root(), difftest.ETCDCTL_PY, lambda c: False
        known = {
            "snapshot save --keep",
            "snapshot save --max-age",
            "make-mirror --until-synced",
            "defrag --rolling",
            "compaction --keep-revisions",
            "snapshot restore --output-dir",
            "completion",
            "completion --program",
        }
    else:
        root, argv = etcdutl.build_root(), OURS_UTL
        upstream_hidden = lambda c: bool(c.deprecated)  # noqa: E731 - etcdutl's own hidden `snapshot save`
        known = {"snapshot restore --output-dir", "snapshot restore --bump-revision", "snapshot status --verify"}
    r = difftest.run([*argv, "help", "extras"])
    assert (r.rc, r.stderr) == (0, b""), r
    listed = _listed(r.stdout)
    hidden = _hidden_in_tree(root, upstream_hidden)
    assert known <= set(hidden), sorted(hidden)
    for name, usage in hidden.items():
        assert name in listed, (name, r.stdout.decode())
        assert listed[name].startswith(usage), (name, listed[name])
    assert set(listed) == set(hidden), set(listed) ^ set(hidden)
    if prog == "etcdutl-py":
        assert "snapshot save" not in listed  # hidden in etcdutl 3.5.1 itself (deprecated), not an extra
    assert r.stdout.startswith(f"Extras of {prog}: ".encode())


@pytest.mark.parametrize(
    "args",
    [["help", "extra"], ["help", "extras", "more"], ["help", "nosuch"], ["help", "a`b", "\x01", "c"]],
    ids=" ".join,
)
def test_other_help_topics_stay_etcdctls(args):
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *args])
    ours = difftest.run([*difftest.ETCDCTL_PY, *args])
    assert (ours.rc, ours.stdout, ours.stderr) == (real.rc, real.stdout, real.stderr)


def _without_extras(text: bytes) -> bytes:
    parts = text.split(b"\n\n")
    return b"\n\n".join(p for p in parts if not p.startswith(tuple(s.encode() for s in EXTRA_SECTION)))


def _extra_sections(text: bytes) -> bytes:
    return b"\n\n".join(p for p in text.split(b"\n\n") if p.startswith(tuple(s.encode() for s in EXTRA_SECTION)))


CTL_PATHS = [
    [],
    ["snapshot", "save"],
    ["make-mirror"],
    ["defrag"],
    ["compaction"],
    ["snapshot", "restore"],
    ["snapshot", "status"],
    ["snapshot"],
    ["get"],
]


@pytest.mark.parametrize("path", CTL_PATHS, ids=lambda p: " ".join(p) or "(root)")
def test_etcdctl_help_lists_a_commands_extras_only_when_asked(path):
    """With ETCDCTL_PY_EXTRAS=1: real etcdctl's help plus sections naming exactly that command's hidden extras."""
    real = difftest.run([etcdproc.distro_bin("etcdctl"), *path, "--help"])
    extras = difftest.run([*difftest.ETCDCTL_PY, *path, "--help"], env={"ETCDCTL_PY_EXTRAS": "1"})
    off = difftest.run([*difftest.ETCDCTL_PY, *path, "--help"], env={"ETCDCTL_PY_EXTRAS": "0"})
    assert (off.rc, off.stdout, off.stderr) == (real.rc, real.stdout, real.stderr)
    assert extras.rc == 0 and _without_extras(extras.stdout) == real.stdout
    cmd = build_root()
    for w in path:
        cmd = cmd.find_next(w)
    want = {f.name for f in cmd.local_flags(with_help=False) if f.hidden}
    shown = set(re.findall(rb"^\s+--([a-z-]+)[=[]", _extra_sections(extras.stdout), re.M))
    assert shown == {n.encode() for n in want}, (shown, want)
    if not path:
        assert b"EXTRA COMMANDS (etcdctl-py, not in etcdctl 3.5.1):\n\tcompletion\t" in extras.stdout
    if path == ["snapshot", "save"]:
        assert want == {"keep", "max-age"}


@pytest.mark.parametrize(
    "path", [["snapshot", "restore"], ["snapshot", "status"], ["defrag"], []], ids=lambda p: " ".join(p) or "(root)"
)
def test_etcdutl_help_lists_a_commands_extras_only_when_asked(path):
    real = difftest.run([etcdproc.distro_bin("etcdutl"), *path, "--help"])
    extras = difftest.run([*OURS_UTL, *path, "--help"], env={"ETCDCTL_PY_EXTRAS": "1"})
    assert extras.rc == real.rc == 0
    assert _without_extras(extras.stdout) == real.stdout
    shown = set(re.findall(rb"^\s+--([a-z-]+)", _extra_sections(extras.stdout), re.M))
    want = {
        "snapshot restore": {
            b"bump-revision",
            b"mark-compacted",
            b"initial-memory-map-size",
            b"output-dir",
            b"to-revision",
            b"to-time",
        },
        "snapshot status": {b"verify"},
    }.get(" ".join(path), set())
    assert shown == want, shown
