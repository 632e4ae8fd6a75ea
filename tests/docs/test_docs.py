"""Every ```sh block of docs/*.md runs, in order, and prints what the page shows (tests/docs/docrunner.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import etcdproc
from tests.docs import docrunner

DOCS = docrunner.ROOT / "docs"
PAGES = sorted(p for p in DOCS.glob("*.md") if docrunner.parse(p.read_text()))


@pytest.fixture(scope="module")
def bindir(tmp_path_factory) -> Iterator[Path]:
    with etcdproc.scratch_dir(tmp_path_factory, "docbin") as d:
        docrunner.wrappers(d)
        yield d


def test_the_guide_has_its_pages():
    names = {p.name for p in PAGES}
    for n in (
        "01-single-node.md",
        "02-backup.md",
        "03-restore.md",
        "04-migrate-to-cluster.md",
        "05-cluster-backup-restore.md",
        "06-compaction-defrag.md",
        "07-tls-auth.md",
        "08-v2.md",
        "09-python-library.md",
    ):
        assert n in names, n


def _docker_answers() -> bool:
    import subprocess

    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page(page, tmp_path, bindir):
    if "docker-compose up" in page.read_text():
        assert _docker_answers(), (
            f"{page.name} runs a cluster in docker-compose and no docker daemon answers: "
            "start one with `tests/cluster/dockerd.sh start` (scripts/test.sh does)"
        )
    run = docrunner.PageRun(page, tmp_path, bindir)
    n = run.run()
    assert n > 0


def test_runner_catches_a_wrong_output(tmp_path, bindir):
    page = tmp_path / "p.md"
    page.write_text(
        "```sh\necho 127.0.0.1:2379\n```\n\n```text\n127.0.0.1:2379\n```\n\n```sh\necho hello\n```\n```text\nbye\n```\n"
    )
    work = tmp_path / "w"
    work.mkdir()
    run = docrunner.PageRun(page, work, bindir)
    with pytest.raises(AssertionError, match="output differs"):
        run.run()
    assert set(run.ports) == {"2379"}


def test_runner_carries_exports_and_cwd_and_fails_on_error(tmp_path, bindir):
    page = tmp_path / "p.md"
    page.write_text(
        '```sh\nmkdir sub && cd sub\nexport X=1\n```\n\n```sh\necho "$X $(basename $PWD)"\n```\n'
        "```text\n1 sub\n```\n\n```sh\nfalse\necho never\n```\n"
    )
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(AssertionError, match=r"block 3\) exited 1"):
        docrunner.PageRun(page, work, bindir).run()


def test_wildcard_matching():
    assert docrunner.output_matches("id … ok\n", "id 8e9e05c52164694d ok\n")
    assert not docrunner.output_matches("id … ok\n", "id x fail\n")
    assert not docrunner.output_matches("a\n", "a\nb\n")
