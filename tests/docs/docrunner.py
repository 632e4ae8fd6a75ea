"""Run the ```sh blocks of a docs/ page in order, as a reader would in one terminal, and check shown outputs.

Rules (also explained in docs/README.md):
* each page runs in its own scratch directory; its blocks run one after the other with `bash -euo pipefail`;
  exported variables and the current directory carry over from one block to the next, as in one terminal;
* a ```text block that directly follows a ```sh block is that block's expected stdout; in it `…` stands for
  any text within one line (IDs, timestamps, sizes);
* every `127.0.0.1:PORT` of the page (blocks and outputs) is mapped to a free loopback port, so pages can use
  etcd's usual ports and still run next to anything else;
  so do shell functions (plain variables do not: `export` what later blocks need);
* `etcd-py`, `etcdctl-py`, `etcdutl-py` and `python` run this source tree; `etcd` is the real etcd 3.5.1;
* every block runs in a new session; processes a block leaves in the background (servers) are stopped by
  process group when the page ends, and a page that wrote a docker-compose.yml gets `docker-compose down` (its
  three-member clusters are real etcd in containers on the host network; tests/cluster/dockerd.sh starts the
  daemon, as scripts/test.sh does).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import etcdproc

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^```(\w*)\s*$")
_ADDR = re.compile(r"127\.0\.0\.1:(\d{2,5})\b")


@dataclass
class Block:
    code: str
    line: int  # 1-based line of the opening fence
    expected: str | None = None


def parse(text: str) -> list[Block]:
    """The ```sh blocks of a page, each with the ```text block that directly follows it (if any)."""
    lines = text.split("\n")
    fences: list[tuple[str, int, int, str]] = []  # (lang, start line, end line, body)
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            fences.append((m.group(1), i, j, "\n".join(lines[i + 1 : j]) + "\n"))
            i = j + 1
            continue
        i += 1
    blocks: list[Block] = []
    for k, (lang, start, end, body) in enumerate(fences):
        if lang != "sh":
            continue
        b = Block(body, start + 1)
        if k + 1 < len(fences) and fences[k + 1][0] == "text":
            gap = lines[end + 1 : fences[k + 1][1]]
            if all(not g.strip() for g in gap):
                b.expected = fences[k + 1][3]
        blocks.append(b)
    return blocks


def output_matches(expected: str, actual: str) -> bool:
    """Line by line; a page cannot show whether the last line ends with a newline, so that one is ignored."""
    exp = expected.removesuffix("\n").split("\n")
    act = actual.removesuffix("\n").split("\n")
    if len(exp) != len(act):
        return False
    for e, a in zip(exp, act, strict=True):
        if "…" in e:
            if not re.fullmatch(".*".join(re.escape(p) for p in e.split("…")), a):
                return False
        elif e != a:
            return False
    return True


def wrappers(bindir: Path) -> None:
    """Commands the pages use, pointing at this checkout (and the real etcd for the cluster pages)."""
    bindir.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    scripts = {
        "etcdctl-py": f'exec "{py}" -m etcdctl_py "$@"',
        "etcdutl-py": f'exec "{py}" -m etcdctl_py.cli.etcdutl "$@"',
        "etcd-py": f'exec "{py}" -m etcdctl_py.server "$@"',
        "python": f'exec "{py}" "$@"',
        "python3": f'exec "{py}" "$@"',
        "etcd": f'exec "{etcdproc.distro_bin("etcd")}" "$@"',
    }
    for name, body in scripts.items():
        p = bindir / name
        p.write_text(f'#!/bin/sh\nexport PYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}"\n{body}\n')
        p.chmod(0o755)


@dataclass
class PageRun:
    page: Path
    work: Path
    bindir: Path
    ports: dict[str, str] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)

    def map_ports(self, text: str) -> str:
        return _ADDR.sub(lambda m: "127.0.0.1:" + self.ports[m.group(1)], text)

    def run(self, timeout: float = 240) -> int:
        text = self.page.read_text()
        for m in _ADDR.finditer(text):
            self.ports.setdefault(m.group(1), str(etcdproc.free_port()))
        state = self.work / ".docstate"
        state.mkdir(exist_ok=True)
        (state / "cwd").write_text(str(self.work))
        (state / "env.sh").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCDCTL_", "ETCD_"))}
        env.update(
            PATH=f"{self.bindir}:{env.get('PATH', '/usr/bin:/bin')}", HOME=str(self.work), LC_ALL="C.UTF-8", TZ="UTC"
        )
        blocks = parse(text)
        try:
            for n, b in enumerate(blocks, 1):
                self._run_block(n, b, state, env, timeout)
        finally:
            self.stop_all()
        return len(blocks)

    def _run_block(self, n: int, b: Block, state: Path, env: dict[str, str], timeout: float) -> None:
        script = state / f"block{n}.sh"
        script.write_text(
            "set -euo pipefail\n"
            f'cd "$(cat "{state}/cwd")"\n'
            f'source "{state}/env.sh"\n'
            f'trap \'{{ export -p | grep -v -E "^declare -x (SHLVL|PWD|OLDPWD|_)="; declare -f; }} '
            f'> "{state}/env.sh"; '
            f'pwd > "{state}/cwd"\' EXIT\n' + self.map_ports(b.code)
        )
        out, err = state / f"block{n}.out", state / f"block{n}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(
                ["bash", str(script)], stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
            self.groups.append(proc.pid)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = -9
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        where = f"{self.page.name}:{b.line} (block {n})"
        if rc != 0:
            raise AssertionError(
                f"{where} exited {rc}\n--- block:\n{b.code}--- stdout:\n{stdout}--- stderr:\n{stderr}{self._logs()}"
            )
        if b.expected is not None:
            expected = self.map_ports(b.expected)
            if not output_matches(expected, stdout):
                raise AssertionError(
                    f"{where}: output differs from the page\n--- block:\n{b.code}--- expected:\n"
                    f"{expected}--- actual:\n{stdout}--- stderr:\n{stderr}"
                )

    def _logs(self) -> str:
        out = ""
        for log in sorted(self.work.rglob("*.log"))[:6]:
            out += f"\n--- {log.relative_to(self.work)} (tail):\n" + "\n".join(
                log.read_text(errors="replace").splitlines()[-15:]
            )
        return out

    def stop_all(self) -> None:
        """SIGTERM, then SIGKILL, every process group this page's blocks created (background servers); remove the
        page's docker-compose containers, if it made any, even when the page failed halfway."""
        if (self.work / "docker-compose.yml").exists():
            subprocess.run(
                ["docker-compose", "down", "-t", "2"],
                cwd=self.work,
                capture_output=True,
                timeout=120,
                env={k: v for k, v in os.environ.items() if not k.startswith(("ETCDCTL_", "ETCD_"))},
            )
        alive = []
        for g in self.groups:
            try:
                os.killpg(g, signal.SIGTERM)
                alive.append(g)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while alive and time.monotonic() < deadline:
            alive = [g for g in alive if _group_exists(g)]
            time.sleep(0.1)
        for g in alive:
            try:
                os.killpg(g, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
