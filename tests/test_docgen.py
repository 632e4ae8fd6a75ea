"""Generated completions/, man/ and docs/reference/: in sync with the live command trees, and they work.

Completion scripts are loaded by the real shells (bash always; zsh and fish when installed: `apt-get install zsh
fish`) and asked for completions; man pages are rendered by groff with all warnings on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import etcdproc

ROOT = Path(__file__).resolve().parent.parent
PY = [sys.executable, "-m", "etcdctl_py"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8"}


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60, **kw)


# --------------------------------------------------------------------------- in sync


def test_committed_files_match_the_live_tree():
    r = run([sys.executable, "-m", "etcdctl_py.docgen", "--check"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_regenerated_into_a_temp_tree_equals_committed(tmp_path):
    r = run([sys.executable, "-m", "etcdctl_py.docgen", "--root", str(tmp_path)])
    assert r.returncode == 0, r.stderr
    produced = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert len(produced) > 100
    for rel in produced:
        assert (ROOT / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    # a page for every command of every tree, including sub-commands
    for page in (
        "etcdctl-py.1",
        "etcdctl-py-get.1",
        "etcdctl-py-snapshot-save.1",
        "etcdctl-py-member-add.1",
        "etcdutl-py.1",
        "etcdutl-py-snapshot-restore.1",
        "etcd-py.1",
    ):
        assert (tmp_path / "man" / page).is_file(), page


def test_check_reports_a_stale_and_an_edited_file(tmp_path):
    assert run([sys.executable, "-m", "etcdctl_py.docgen", "--root", str(tmp_path)]).returncode == 0
    (tmp_path / "man" / "etcdctl-py-nosuch.1").write_text("old\n")
    with open(tmp_path / "completions" / "etcdctl-py.bash", "a") as f:
        f.write("# edited\n")
    r = run([sys.executable, "-m", "etcdctl_py.docgen", "--check", "--root", str(tmp_path)])
    assert r.returncode == 1
    assert "stale: man/etcdctl-py-nosuch.1" in r.stdout
    assert "differs: completions/etcdctl-py.bash" in r.stdout


# --------------------------------------------------------------------------- the completion verb


@pytest.mark.parametrize(
    "shell,prog,name",
    [
        ("bash", "etcdctl-py", "etcdctl-py.bash"),
        ("zsh", "etcdutl-py", "_etcdutl-py"),
        ("fish", "etcd-py", "etcd-py.fish"),
        ("powershell", "etcdctl-py", "etcdctl-py.ps1"),
    ],
)
def test_completion_verb_prints_the_committed_script(shell, prog, name):
    r = run(PY + ["completion", shell, "--program", prog])
    assert r.returncode == 0, r.stderr
    assert r.stdout == (ROOT / "completions" / name).read_text()


def test_completion_verb_bad_shell():
    r = run(PY + ["completion", "tcsh"])
    assert (r.returncode, r.stdout, r.stderr) == (
        128,
        "",
        "Error: completion needs one argument: bash, zsh, fish or powershell\n",
    )


def test_completion_help_mentions_the_man_pages():
    r = run(PY + ["completion", "--help"])
    assert r.returncode == 0
    assert "man/" in r.stdout and "source <(etcdctl-py completion bash)" in r.stdout


@pytest.mark.parametrize("argv", [["--help"], ["comp"], ["completio"], ["compl"], ["help"], ["cmpletion"]])
def test_hidden_completion_verb_leaves_3_5_1_behaviour_alone(argv):
    """Root help, suggestions and prefix matching are exactly etcdctl 3.5.1's (real binary, no server needed)."""
    real = subprocess.run([etcdproc.distro_bin("etcdctl"), *argv], capture_output=True, text=True, timeout=30)
    ours = run(PY + argv)
    if argv in (["--help"], ["help"]):
        # etcdctl 3.5.1 lists `check datascale/perf`; drop those lines if our tree has no `check` yet
        have_check = (ROOT / "etcdctl_py" / "cli" / "check.py").exists()
        real_out = (
            real.stdout
            if have_check
            else "".join(ln for ln in real.stdout.splitlines(True) if not ln.startswith("\tcheck "))
        )
        assert ours.stdout == real_out
        assert "completion" not in ours.stdout
    else:
        assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)


def test_get_path_does_not_import_docgen():
    code = (
        "import sys; from etcdctl_py.cli import main; main.main(['get', '--help']); "
        "bad = [m for m in sys.modules if m.startswith(('etcdctl_py.docgen', 'etcdctl_py.cli.completion'))]; "
        "print(bad, file=sys.stderr)"
    )
    r = run([sys.executable, "-c", code])
    assert r.stderr.strip() == "[]"


# --------------------------------------------------------------------------- shells

BASH_DRIVER = r"""
source "$1"
complete -p {prog}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); {fn}; echo "${{COMPREPLY[*]}}"; }}
"""


def bash_complete(prog: str, lines: list[list[str]], cwd: Path | None = None) -> list[str]:
    fn = "_" + prog.replace("-", "_")
    script = BASH_DRIVER.format(prog=prog, fn=fn)
    for words in lines:
        script += "t " + " ".join("'" + w + "'" for w in [prog, *words]) + "\n"
    r = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", str(ROOT / "completions" / f"{prog}.bash")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd or ROOT,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = r.stdout.splitlines()
    assert out[0] == f"complete -F {fn} {prog}"
    return out[1:]


@pytest.mark.parametrize("prog", ["etcdctl-py", "etcdutl-py", "etcd-py"])
def test_bash_scripts_parse(prog):
    r = subprocess.run(["bash", "-n", str(ROOT / "completions" / f"{prog}.bash")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_bash_completes_verbs_flags_and_values(tmp_path):
    (tmp_path / "snap.db").write_bytes(b"")
    (tmp_path / "data.etcd").mkdir()
    got = bash_complete(
        "etcdctl-py",
        [
            ["comp"],
            ["snapshot", "re"],
            ["get", "--sort-by", ""],
            ["get", "--order", "D"],
            ["get", "--consistency", ""],
            ["-w", "j"],
            ["get", "--write-out", "=", "t"],
            ["--endpoints", "127.0.0.1:2379", "member", "a"],
            ["get", "--pr"],
            ["completion", ""],
            ["snapshot", "restore", "sn"],
            ["snapshot", "restore", "snap.db", "--data-dir", "da"],
            ["endpoint", "hashkv", "--cl"],
        ],
        cwd=tmp_path,
    )
    assert got == [
        "compaction completion",
        "restore",
        "CREATE KEY MODIFY VALUE VERSION",
        "DESCEND",
        "l s",
        "json",
        "table",
        "add",
        "--prefix --print-value-only",
        "bash zsh fish powershell",
        "snap.db",
        "data.etcd",
        "--cluster",
    ]


def test_bash_etcdutl_and_etcd():
    assert bash_complete("etcdutl-py", [["snapshot", ""], ["-w", ""], ["backup", "--with"]]) == [
        "restore status",
        "fields json protobuf simple table",
        "--with-v3",
    ]
    got = bash_complete("etcd-py", [["--log-level", ""], ["-auto-compaction-mode", "r"], ["--quota"]])
    assert got == ["debug info warn error panic fatal", "revision", "--quota-backend-bytes"]


ZSH_DRIVER = r"""
compdef() { :; }
_describe() {
  local -a arr names; local n=${@[-1]}; arr=("${(@P)n}"); names=("${(@)arr%%:*}"); print -r -- "${names[*]}"
}
compadd() {
  if [[ $1 == -a ]]; then local -a arr; arr=("${(@P)2}"); print -r -- "${arr[*]}"; else print -r -- "$*"; fi
}
_files() { print -r -- "FILES $*"; }
_message() { print -r -- "MESSAGE"; }
compset() { :; }
source "$1"
t() { words=("$@"); CURRENT=$#words; FN; }
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed (apt-get install zsh)")
def test_zsh_script_loads_in_compsys_and_completes():
    path = ROOT / "completions" / "_etcdctl-py"
    r = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the real compsys: compinit, then the script registers itself for etcdctl-py
    r = subprocess.run(
        [
            "zsh",
            "-f",
            "-c",
            'autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[etcdctl-py]',
            "zsh",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.stdout.strip() == "_etcdctl_py", r.stderr
    cases = [
        ["etcdctl-py", "snapshot", ""],
        ["etcdctl-py", "get", "--sort-by", ""],
        ["etcdctl-py", "-w", "json", "member", ""],
        ["etcdctl-py", "snapshot", "restore", "--data-dir", ""],
        ["etcdctl-py", "completion", ""],
        ["etcdctl-py", "--endpoints", "x", "get", "--order=D"],
    ]
    script = ZSH_DRIVER.replace("FN", "_etcdctl_py") + "".join(
        "t " + " ".join(f"'{w}'" for w in c) + "\n" for c in cases
    )
    r = subprocess.run(["zsh", "-f", "-c", script, "zsh", str(path)], capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines() == [
        "follow restore save status",
        "CREATE KEY MODIFY VALUE VERSION",
        "add list promote remove update",
        "FILES -/",
        "bash zsh fish powershell",
        "ASCEND DESCEND",
    ], r.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed (apt-get install fish)")
def test_fish_scripts_complete():
    for prog in ("etcdctl-py", "etcdutl-py", "etcd-py"):
        r = subprocess.run(["fish", "-n", str(ROOT / "completions" / f"{prog}.fish")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def complete(prog: str, line: str) -> list[str]:
        r = subprocess.run(
            ["fish", "--no-config", "-c", f"source {ROOT}/completions/{prog}.fish; complete -C '{line}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.stderr == ""
        return [ln.split("\t")[0] for ln in r.stdout.splitlines()]

    assert complete("etcdctl-py", "etcdctl-py get --sort-by ") == ["CREATE", "KEY", "MODIFY", "VALUE", "VERSION"]
    assert complete("etcdctl-py", "etcdctl-py snapshot r") == ["restore"]
    assert complete("etcdctl-py", "etcdctl-py --endpoints 127.0.0.1:2379 mem") == ["member"]
    assert "--learner" in complete("etcdctl-py", "etcdctl-py member add --")
    assert "--learner" not in complete("etcdctl-py", "etcdctl-py get --")
    assert complete("etcdutl-py", "etcdutl-py -w ") == ["fields", "json", "protobuf", "simple", "table"]
    assert complete("etcd-py", "etcd-py --initial-cluster-state ") == ["existing", "new"]  # fish sorts


def test_powershell_tables_cover_the_tree():
    """pwsh is not installable here: check that the hashtables name every path, sub-verb and value list."""
    from etcdctl_py.docgen import model

    text = (ROOT / "completions" / "etcdctl-py.ps1").read_text()
    assert text.count("{") == text.count("}")
    for c in model.etcdctl().commands():
        assert f"'{c.words}' = @(" in text, c.words
    assert "'--sort-by' = @('CREATE', 'KEY', 'MODIFY', 'VALUE', 'VERSION')" in text
    assert "'-w' = @('fields', 'json', 'protobuf', 'simple', 'table')" in text


# --------------------------------------------------------------------------- man pages


def test_every_man_page_renders_without_groff_warnings():
    pages = sorted((ROOT / "man").glob("*.1"))
    assert len(pages) >= 60
    for page in pages:
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", f"{page.name}: {r.stderr}"


@pytest.mark.skipif(shutil.which("man") is None, reason="man not installed")
def test_man_l_renders_the_get_page():
    r = subprocess.run(
        ["man", "-l", str(ROOT / "man" / "etcdctl-py-get.1")],
        capture_output=True,
        text=True,
        env={**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100", "LC_ALL": "C.UTF-8"},
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    text = re.sub(r".\x08", "", r.stdout)  # overstrike bold/underline when not on a terminal
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "etcdctl-py-get - Gets the key or a range of keys" in text
    assert "--sort-by string" in text and "Values: CREATE, KEY, MODIFY" in text
    assert "etcdctl-py(1)" in text
