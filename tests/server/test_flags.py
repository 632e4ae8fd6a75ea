"""etcd-py reads its command line, ETCD_* variables and --config-file as etcd 3.5.1 does.

Every case runs the real etcd 3.5.1 and etcd-py side by side, each with its own fresh data dir (a temp dir that is
removed afterwards) and free 127.0.0.1 ports, always with loopback listen/advertise/peer URLs and initial cluster
so nothing binds or resolves a name, and compares how each ended: the exit code and the error lines (zap lines
without ts/caller/stacktrace, Go's flag and panic lines, ports and paths masked), or that both started and served.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from etcdctl_py.server.flagdefs import FLAGS
from tests import etcdproc

REAL = [etcdproc.distro_bin("etcd")]
OURS = etcdproc.etcd_py_argv()
ROOT = str(etcdproc.ROOT)
STARTED = "started"
# zap lines of a running etcd that say nothing about flags (etcd-py has no such parts)
RUNNING_SERVER_NOISE = {
    "simple token is not cryptographically signed",
    "stopped publish because server is stopped",
    "failed to publish local member to cluster through raft",
    "Flag `enable-v2` is deprecated and will get removed in etcd 3.6.",
}


_SCRATCH: dict[str, str] = {}  # "dir": where launch() makes each server's dir (this module's scratch dir)


@pytest.fixture(scope="module", autouse=True)
def _scratch(tmp_path_factory) -> Iterator[None]:
    """launch() works under pytest's basetemp, in a dir removed with the module."""
    with etcdproc.scratch_dir(tmp_path_factory, "flags") as d:
        _SCRATCH["dir"] = str(d)
        yield
        del _SCRATCH["dir"]


@dataclass
class Outcome:
    rc: int | str  # the exit code, or STARTED when /health answered
    stdout: str
    stderr: str


def _base_args(d: str, c: int, p: int, drop: tuple[str, ...]) -> list[str]:
    args = {
        "--data-dir": f"{d}/data",
        "--listen-client-urls": f"http://127.0.0.1:{c}",
        "--advertise-client-urls": f"http://127.0.0.1:{c}",
        "--listen-peer-urls": f"http://127.0.0.1:{p}",
        "--initial-advertise-peer-urls": f"http://127.0.0.1:{p}",
        "--initial-cluster": f"default=http://127.0.0.1:{p}",
    }
    return [x for k, v in args.items() if k not in drop for x in (k, v)]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not serving (yet)
        return False


def launch(
    binary: list[str],
    args: list[str],
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    base: bool = True,
    files: dict[str, str] | None = None,
    timeout: float = 40.0,
    on_started=None,
) -> Outcome:
    """Run one server in its own temp dir; `{C}`, `{P}`, `{D}` in args/env/files are its client port, peer port
    and dir. Returns how it exited, or STARTED once /health answered (then it is stopped). `on_started(url)` runs
    and its dir while it serves."""
    d = tempfile.mkdtemp(prefix="etcd-flags-", dir=_SCRATCH["dir"])
    proc = None
    try:
        c, p = etcdproc.free_port(), etcdproc.free_port()

        def sub(s: str) -> str:
            return s.replace("{C}", str(c)).replace("{P}", str(p)).replace("{D}", d)

        for name, text in (files or {}).items():
            with open(os.path.join(d, name), "w") as f:
                f.write(sub(text))
        argv = [*binary, *(_base_args(d, c, p, drop) if base else []), *(sub(a) for a in args)]
        e = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
        e["PYTHONPATH"] = ROOT
        e.update({k: sub(v) for k, v in (env or {}).items()})
        with open(os.path.join(d, "out"), "wb") as out, open(os.path.join(d, "err"), "wb") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=e, cwd=d)
        url = f"http://127.0.0.1:{c}"
        deadline = time.monotonic() + timeout
        rc: int | str | None = None
        while rc is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                rc = proc.returncode
            elif _healthy(url):
                rc = STARTED
                if on_started is not None:
                    on_started(url, d)
            else:
                time.sleep(0.05)
        assert rc is not None, f"{argv} neither exited nor served within {timeout}s"
        return Outcome(rc, _read(d, "out"), _read(d, "err"))
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def _read(d: str, name: str) -> str:
    with open(os.path.join(d, name), "rb") as f:
        return f.read().decode("utf-8", "replace")


_MASKS = [
    (re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "), ""),  # Go's log.Fatalf prefix
    (re.compile(r"(?<=[\w\]/]):\d{2,5}(?!\d)"), ":PORT"),
    (re.compile(r"/[^\s\"']*/etcd-flags-[^/\s\"']+"), "DIR"),
]


def _mask(s: str) -> str:
    for rx, rep in _MASKS:
        s = rx.sub(rep, s)
    return s


def significant(stderr: str, only: set[str] | None = None) -> list[str]:
    """The lines that tell why a server refused: warn and worse zap lines (plus "Running: "), Go's flag error
    lines up to the usage text, a panic's first line, bare fatal lines. Fields that legitimately differ (ts,
    caller, stacktrace, the argv of "Running: ") are dropped; ports and temp paths masked. `only`: keep just the
    zap lines with these messages."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("msg") in RUNNING_SERVER_NOISE or (
                rec.get("level") in ("debug", "info") and rec.get("msg") != "Running: "
            ):
                continue
            if only is not None and rec.get("msg") not in only:
                continue
            for k in ("ts", "caller", "stacktrace", "args", "logger"):
                rec.pop(k, None)
            out.append(_mask(json.dumps(rec, sort_keys=True)))
        elif line.startswith("panic: "):
            out.append(line)
            break  # then Go's goroutine dump
        elif line == "Usage:":
            out.append(line)
            break  # the usage text is etcd-py's own
        elif line.strip() and not line.startswith("WARNING: "):  # grpc-go's own logger in a started etcd
            out.append(_mask(line))
    return out


def both(args: list[str], **kw) -> tuple[Outcome, Outcome]:
    """The same case against real etcd and etcd-py, at the same time."""
    with ThreadPoolExecutor(2) as ex:
        fr = ex.submit(launch, REAL, args, **kw)
        fo = ex.submit(launch, OURS, args, **kw)
        return fr.result(), fo.result()


def same_refusal(args: list[str], **kw) -> Outcome:
    """Both refuse to start, with the same exit code and error lines; etcd-py's result."""
    real, ours = both(args, **kw)
    assert real.rc != STARTED, f"real etcd started with {args}: the case is wrong"
    why = (
        f"{args} {kw.get('env', '')}\nreal etcd: {real.rc} {real.stderr[-3000:]}\n"
        f"etcd-py: {ours.rc} {ours.stderr[-3000:]}"
    )
    assert (ours.rc, significant(ours.stderr)) == (real.rc, significant(real.stderr)), why
    assert "Traceback" not in ours.stderr
    return ours


# ----------------------------------------------------------------------------------------- flag parsing (exit 2)

_BAD_BY_KIND = {
    "bool": "yes",
    "uint": "abc",
    "uint64": "-1",
    "int": "1.5",
    "int64": "99999999999999999999",
    "duration": "5",
    "urls": "ftp://127.0.0.1:1",
    "choice": "bogus",
    "choices": "bogus",
}


def _one_bad_value_per_flag() -> list[list[str]]:
    """Every typed flag with a value its Go type refuses (booleans as --flag=value, the only way they take one)."""
    cases = []
    for fd in FLAGS:
        bad = _BAD_BY_KIND.get(fd.kind)
        if bad is not None:
            cases.append([f"--{fd.name}={bad}"] if fd.kind == "bool" else [f"--{fd.name}", bad])
    return cases


_BAD_VALUES = [
    *([f"--client-cert-auth={v}"] for v in ("yes", "on", "maybe", "", "2", "tRUE", "-1", "Yes")),
    *(
        ["--max-request-bytes", v]
        for v in ("-1", "1.5", "99999999999999999999", "", "0x", "1__0", "+5", "0b102", "_1", "1_", "0x1g", " 1")
    ),
    *(["--quota-backend-bytes", v] for v in ("abc", "9223372036854775808", "-9223372036854775809", "1e3")),
    *(["--backend-batch-limit", v] for v in ("0x1g", "--1")),
    *(
        ["--grpc-keepalive-min-time", v]
        for v in ("5", "abc", "1x", "", "9999999999999999999h", ".s", "1.5.5s", "1 s", "-", "5µ")
    ),
    *(
        ["--listen-client-urls", v]
        for v in (
            "127.0.0.1:1",
            "http://127.0.0.1",
            "http://127.0.0.1:1/p",
            "http://127.0.0.1:1,",
            "unix:///tmp/x",
            "http://[::1",
            "HTTP://a:1/x",
            " ",
            "http://127.0.0.1:1:2",
        )
    ),
    ["--cors", ""],
    ["--cors", "http://127.0.0.1:1/x"],
    ["--initial-cluster-state", "NEW"],
    ["--proxy", "bogus"],
    ["--v2-deprecation", "not-yet,bogus"],
    ["--discovery-fallback", ""],
]

_BAD_SYNTAX = [
    ["--name"],
    ["---name", "x"],
    ["-=x"],
    ["--x"],
    ["-x=1"],
    ["--help-me"],
    ["--debug"],
    ["--logger-stdout"],
    ["--enable-v2=maybe"],
    ["--version=maybe"],
    ["--name", "x", "--bogus"],
]


@pytest.mark.parametrize("args", _one_bad_value_per_flag() + _BAD_VALUES + _BAD_SYNTAX, ids=repr)
def test_flag_parse_error_is_gos(args):
    """Go's flag package errors: the same line on stderr, then the usage text, exit 2."""
    ours = same_refusal(args)
    assert ours.rc == 2 and "Usage:" in ours.stderr


def test_client_cert_auth_yes_fails_on_both():
    """The reported bug: `--client-cert-auth=yes` silently meant false."""
    ours = same_refusal(["--client-cert-auth=yes"])
    assert ours.stderr.startswith('invalid boolean value "yes" for -client-cert-auth: parse error\nUsage:')


# ----------------------------------------------------------------------------------------- etcd's checks (exit 1)

_REFUSED = [
    # (args, env, dropped base flags)
    (["foo"], {}, ()),
    (["-"], {}, ()),
    (["--", "foo"], {}, ()),
    (["--enable-v2", "maybe"], {}, ()),
    (["--version", "extra"], {}, ()),
    (["--heartbeat-interval", "0"], {}, ()),
    (["--election-timeout", "0"], {}, ()),
    (["--election-timeout", "5"], {}, ()),
    (["--election-timeout", "60000"], {}, ()),
    (["--heartbeat-interval", "0x20", "--election-timeout", "159"], {}, ()),
    (["--log-level", "error", "--election-timeout", "5"], {}, ()),
    (["--log-level", "DEBUG", "--election-timeout", "5"], {}, ()),
    (["--log-level", "", "--election-timeout", "5"], {}, ()),
    (["--log-level", "iNFO", "--election-timeout", "5"], {}, ()),
    (["--log-level", "Fatal", "--election-timeout", "5"], {}, ()),
    (["--logger", "capnslog"], {}, ()),
    (["--logger", "foo"], {}, ()),
    (["--log-outputs", "default,stderr"], {}, ()),
    (["--enable-log-rotation"], {}, ()),
    (["--auto-compaction-mode", "bogus"], {}, ()),
    (["--listen-client-urls", "http://127.0.0.256:{C}"], {}, ()),
    (["--listen-peer-urls", "http://127.0.0.256:{P}"], {}, ()),
    (["--advertise-client-urls", "http://:{C}"], {}, ()),
    (["--discovery", "http://127.0.0.1:1/x"], {}, ()),
    (["--listen-client-urls", "http://127.0.0.1:{C}"], {}, ("--advertise-client-urls",)),
    ([], {"ETCD_SNAPSHOT_COUNT": "abc"}, ()),
    ([], {"ETCD_CLIENT_CERT_AUTH": "yes"}, ()),
    ([], {"ETCD_ENABLE_V2": "maybe", "ETCD_SNAPSHOT_COUNT": "-1"}, ()),
    ([], {"ETCD_ELECTION_TIMEOUT": "5"}, ()),
    (["--name", "bar"], {"ETCD_NAME": "foo"}, ()),
    (["--name", "bar"], {"ETCD_NAME": ""}, ()),
    (["--name=bar"], {"ETCD_FOO": "1", "ETCD_NAME": "foo"}, ()),
    (["--data-dir", "{D}/other"], {"ETCD_DATA_DIR": "{D}/x"}, ()),
]


@pytest.mark.parametrize("args,env,drop", _REFUSED, ids=repr)
def test_refused_like_etcd(args, env, drop):
    """etcd's "failed to verify flags" warning (or the fatal for an ETCD_* variable repeating a flag), exit 1;
    lines etcd logs before its logger exists and after are told apart (--log-level error hides the warning)."""
    ours = same_refusal(args, env=env, drop=drop)
    assert ours.rc == 1


def test_conflicting_etcd_name_is_fatal():
    ours = same_refusal(["--name", "bar"], env={"ETCD_NAME": "foo"})
    assert significant(ours.stderr) == [
        json.dumps(
            {
                "environment-variable": "ETCD_NAME",
                "level": "fatal",
                "msg": "conflicting environment variable is shadowed by corresponding command-line flag (either unset "
                "environment variable or disable flag))",
            },
            sort_keys=True,
        )
    ]


@pytest.mark.parametrize("level", ["bogus", "WARNING", "warning", "inf"])
def test_unknown_log_level_panics_like_etcd(level):
    """etcd panics on an unknown level (exit 2): etcd-py prints the panic line, never a Python traceback."""
    ours = same_refusal(["--log-level", level])
    assert ours.rc == 2 and ours.stderr.startswith(f'panic: unrecognized level: "{level}"')


_START_REFUSED = [
    ["--listen-client-urls", "https://127.0.0.1:{C}"],
    ["--listen-client-urls", "http://127.0.0.1:{C},https://127.0.0.1:{P}"],
    ["--listen-client-urls", "unixs://127.0.0.1:{C}"],
    ["--listen-peer-urls", "https://127.0.0.1:{P}"],
    ["--cipher-suites", "TLS_AES_128_GCM_SHA256,bogus"],
    ["--auto-compaction-retention", "abc"],
    ["--auto-compaction-retention", "-5"],
    ["--auto-compaction-retention", "5 s"],
    ["--auto-compaction-retention", "é"],
    ["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1_000"],
    ["--initial-cluster", "default="],
    ["--initial-cluster", "bad"],
    ["--initial-cluster", "default=ftp://127.0.0.1:{P}"],
    ["-name=x"],
    ["--initial-cluster-state", "existing"],
    ["--enable-v2", "--v2-deprecation", "write-only"],
]


@pytest.mark.parametrize("args", _START_REFUSED, ids=repr)
def test_start_refused_like_etcd(args):
    """Errors etcd finds while starting: "failed to start etcd", then the fatal "discovery failed", exit 1."""
    ours = same_refusal(args)
    assert ours.rc == 1 and '"msg":"discovery failed"' in ours.stderr


def test_https_without_cert_is_refused():
    """The reported bug: an https client URL without --cert-file/--key-file served plain text."""
    ours = same_refusal(
        ["--listen-client-urls", "https://127.0.0.1:{C}", "--advertise-client-urls", "https://127.0.0.1:{C}"]
    )
    assert "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:" in ours.stderr


@pytest.mark.parametrize("given", [["--cert-file", "{D}/server.pem"], ["--key-file", "{D}/server.key"]])
def test_https_with_half_a_key_pair_is_refused(given):
    """A certificate without its key (or the reverse) on an https URL: etcd's fatal "listener failed"."""
    ours = same_refusal(["--listen-client-urls", "https://127.0.0.1:{C}", *given])
    assert '"msg":"listener failed"' in ours.stderr


# ----------------------------------------------------------------------------------------- accepted forms

_STARTS = [
    (["--enable-v2=T"], {}, ()),
    (["-enable-v2=1", "-strict-reconfig-check=F", "--pre-vote=FALSE"], {}, ()),
    (["-name=x", "--initial-cluster=x=http://127.0.0.1:{P}"], {}, ()),
    (["--name", "x", "--initial-cluster", "x=http://127.0.0.1:{P}"], {}, ()),
    (["--snapshot-count=0x10", "--max-wals", "0o7", "--max-snapshots=0b11"], {}, ()),
    (["--snapshot-count", "1_000", "--quota-backend-bytes", "-1"], {}, ()),
    (["--snapshot-count", "0"], {}, ()),
    (["--max-request-bytes", "99999999999"], {}, ()),
    (["--max-request-bytes", "18446744073709551615"], {}, ()),
    (["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1h"], {}, ()),
    (["--auto-compaction-mode", "revision", "--auto-compaction-retention", "-1h"], {}, ()),
    (["--auto-compaction-retention", "+2"], {}, ()),
    (["--grpc-keepalive-min-time", "-5s", "--grpc-keepalive-interval=1.5h", "--raft-read-timeout", "1s"], {}, ()),
    (["--log-level", "DEBUG"], {}, ()),
    (["--client-cert-auth", "--cert-file", "{D}/none.pem", "--key-file", "{D}/none.key"], {}, ()),
    (["--config", "--force", "-v"], {}, ()),
    (["--listen-client-urls", "http://127.0.0.1:{C}", "--listen-client-urls", "http://127.0.0.1:{C}"], {}, ()),
    ([], {"ETCD_FOO": "1", "ETCD_VERSION": "1", "ETCD_ENABLE_V2": "true", "ETCD_NAME": ""}, ()),
    (["--name", "x"], {"ETCD_INITIAL_CLUSTER": "x=http://127.0.0.1:{P}"}, ("--initial-cluster",)),
    (["--name", "x"], {}, ("--initial-cluster",)),
    (["--log-outputs", "stderr"], {}, ()),
    (["--listen-client-urls", ""], {}, ()),  # an empty URL list keeps the one given before
    (["--"], {}, ()),
]


# what a starting etcd warns about its flags and environment (a running one may warn about slow disks too)
FLAG_WARNINGS = {
    "unrecognized environment variable",
    "cannot set special environment variable",
    "exceeded recommended request limit",
    "'data-dir' was empty; using default",
    "scheme is HTTP while key and cert files are present; ignoring key and cert files",
    "scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL",
}


@pytest.mark.parametrize("args,env,drop", _STARTS, ids=repr)
def test_valid_go_forms_start_on_both(args, env, drop):
    """What etcd accepts starts etcd-py too, with etcd's warnings about the flags (unknown ETCD_* variables,
    ETCD_VERSION, ignored TLS files on http URLs, an oversized request limit)."""
    real, ours = both(args, env=env, drop=drop)
    assert real.rc == STARTED, real.stderr[-3000:]
    assert ours.rc == STARTED, ours.stderr[-3000:]
    assert significant(ours.stderr, FLAG_WARNINGS) == significant(real.stderr, FLAG_WARNINGS)
    if "--max-request-bytes" in args:  # both must say what etcd says about a limit above 10 MiB
        assert "exceeded recommended request limit" in ours.stderr
    assert "Traceback" not in ours.stderr


def test_every_listed_flag_is_accepted():
    """`--help` lists every flag etcd-py takes; each, at the default it shows, is accepted by etcd-py and by
    real etcd (parsed up to --version, so nothing starts), and etcd's own listing is covered."""
    ours = launch(OURS, ["--help"], base=False)
    real = launch(REAL, ["--help"], base=False)
    assert ours.rc == real.rc == 0
    assert ours.stderr.startswith("Usage:") and real.stderr.startswith("Usage:")
    entries = re.findall(r"^  --([a-z0-9.-]+)( '([^']*)')?$", ours.stdout, re.MULTILINE)
    listed = {name: (value if quoted else None) for name, quoted, value in entries}
    assert set(listed) == {f.name for f in FLAGS}
    etcd_listed = set(re.findall(r"^  --([a-z0-9.-]+)", real.stdout, re.MULTILINE))
    assert etcd_listed <= set(listed), etcd_listed - set(listed)
    for line in ours.stdout.splitlines():
        if line.startswith("  --"):
            assert line.split()[0][2:] in listed
    argv = []
    for name, shown in listed.items():
        if name in ("version", "config-file"):
            continue
        argv.append(f"--{name}" if shown is None else f"--{name}={shown}")
    for binary in (OURS, REAL):
        got = launch(binary, [*argv, "--version"], base=False)
        assert got.rc == 0 and got.stdout.startswith("etcd Version: 3.5.1\n"), (binary, got.stderr[-2000:])


def test_help_and_version_like_etcd():
    for args in (["-h"], ["--help"], ["-help"], ["--help=false"], ["--name", "x", "-h", "--bogus"]):
        real, ours = both(args, base=False)
        assert real.rc == ours.rc == 0, args
        assert ours.stderr.startswith("Usage:\n") and real.stderr.startswith("Usage:\n")
        assert "\nMember:\n  --name 'default'\n" in ours.stdout
    real, ours = both(["--version"], base=False)
    assert real.rc == ours.rc == 0
    assert ours.stdout.splitlines()[0] == real.stdout.splitlines()[0] == "etcd Version: 3.5.1"


def test_unknown_flag_prints_usage():
    real, ours = both(["--x"], base=False)
    assert real.rc == ours.rc == 2
    assert ours.stderr.split("\n")[:2] == real.stderr.split("\n")[:2] == ["flag provided but not defined: -x", "Usage:"]


# ----------------------------------------------------------------------------------------- --config-file

CONFIG = """# written for one server: its own dir and ports
name: cfg
data-dir: {D}/data
listen-client-urls: http://127.0.0.1:{C}
advertise-client-urls: http://127.0.0.1:{C}
listen-peer-urls: 'http://127.0.0.1:{P}'
initial-advertise-peer-urls: "http://127.0.0.1:{P}"
initial-cluster: cfg=http://127.0.0.1:{P}
"""


def _member_name(url: str, out: list[str]) -> None:
    """The member name `etcdctl member list` reports."""
    ctl = etcdproc.distro_bin("etcdctl")
    r = subprocess.run(
        [ctl, f"--endpoints={url}", "member", "list"], capture_output=True, text=True, timeout=20, check=False
    )
    out.append(r.stdout.split(", ")[2] if r.returncode == 0 else r.stderr)


def test_config_file_wins_over_flags_and_env():
    """With --config-file etcd ignores every other flag and ETCD_* variable (even a conflicting pair); YAML 1.1
    scalars (`yes`, `on`, `0x10`) read as go-yaml reads them."""
    text = (
        CONFIG + "snapshot-count: 0x10\nenable-v2: yes\nclient-transport-security:\n  client-cert-auth: on\n"
        "log-outputs: [stderr]\nmax-request-bytes: 1.0e+3\n"
    )
    names: dict[str, list[str]] = {"real": [], "ours": []}
    for who, binary in (("real", REAL), ("ours", OURS)):
        got = launch(
            binary,
            ["--config-file", "{D}/c.yaml", "--name", "ignored", "--snapshot-count", "1"],
            env={"ETCD_NAME": "zzz", "ETCD_BOGUS": "1"},
            base=False,
            files={"c.yaml": text},
            on_started=lambda url, _d, who=who: _member_name(url, names[who]),
        )
        assert got.rc == STARTED, got.stderr[-3000:]
        assert "unrecognized environment variable" not in got.stderr
    assert names["ours"] == names["real"] == ["cfg"]


def test_config_file_from_environment():
    real, ours = both(
        [], env={"ETCD_CONFIG_FILE": "{D}/c.yaml", "ETCD_NAME": "zzz"}, base=False, files={"c.yaml": CONFIG}
    )
    assert real.rc == ours.rc == STARTED, ours.stderr[-3000:]


_BAD_CONFIGS = [
    "enable-v2: maybe",
    "snapshot-count: abc",
    "snapshot-count: 1.5",
    "max-wals: -5",
    "grpc-keepalive-min-time: 5s",
    "name: [a, b]",
    "name: {a: b}",
    "client-transport-security: foo",
    "client-transport-security:\n  client-cert-auth: maybe",
    "log-outputs: stderr",
    "log-outputs: [[a]]",
    "heartbeat-interval: 100\nelection-timeout: 499",
    "election-timeout: 0",
    "quota-backend-bytes: 9999999999999999999",
    "initial-cluster-state: bogus",
    "log-level: bogus",
    "logger: capnslog",
    "auto-compaction-mode: bogus",
    "proxy-failure-wait: abc",
    "proxy: bogus",
    "discovery-fallback: bogus",
    "listen-client-urls: ftp://127.0.0.1:1",
    "advertise-client-urls: 127.0.0.1:1",
    "listen-peer-urls: http://x:1/p",
    "listen-metrics-urls: http://127.0.0.1:1,",
    "cors: '*,http://a:1'",
    "listen-client-urls: http://127.0.0.256:{C}",
    "advertise-client-urls: http://:{C}",
    "Election-Timeout: 1",
]


@pytest.mark.parametrize("bad", _BAD_CONFIGS, ids=repr)
def test_config_file_value_errors_like_etcd(bad):
    """Type errors in encoding/json's words, etcd's checks, the bare lines etcd prints for bad URLs or proxy
    settings, each with etcd's exit code; the flags and ETCD_* given alongside play no part."""
    keys = {line.split(":")[0].strip().lower() for line in bad.splitlines()}
    text = "\n".join(line for line in CONFIG.splitlines() if line.split(":")[0] not in keys) + "\n" + bad + "\n"
    same_refusal(
        ["--config-file", "{D}/c.yaml", "--name", "x"], env={"ETCD_NAME": "y"}, base=False, files={"c.yaml": text}
    )


_BAD_YAML = [
    "name: [a",
    "name: x\n  y: z",
    'name: "abc',
    "\tname: x",
    "- a\n- b",
    "foo",
    "name: a: b",
    "42",
    "name: x\n\tdata-dir: y",
    "a:\n    b: 1\n  c: 2",
    "[a, b",
    "name: 'a''",
]


@pytest.mark.parametrize("text", _BAD_YAML, ids=repr)
def test_config_file_yaml_errors_like_etcd(text):
    """go-yaml's syntax errors (the YAML never parses, so the defaults, which listen on localhost, never run)."""
    same_refusal(["--config-file", "{D}/c.yaml"], base=False, files={"c.yaml": text + "\n"})


def test_config_file_missing():
    same_refusal(["--config-file", "{D}/nonexistent.yaml"], base=False)
    same_refusal(["--config-file", "{D}"], base=False)


# ----------------------------------------------------------------------------------------- auto compaction


def _put_keys(url: str, n: int) -> None:
    ctl = etcdproc.distro_bin("etcdctl")
    for i in range(n):
        subprocess.run([ctl, f"--endpoints={url}", "put", f"k{i}", "v"], capture_output=True, timeout=20, check=True)


def test_periodic_auto_compaction_logs_like_etcd():
    """--auto-compaction-retention 1s: both compact on their own and log etcd's lines for it."""
    logs: dict[str, str] = {}

    def watch(who: str, url: str, d: str) -> None:
        _put_keys(url, 3)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = _read(d, "err")
            if "completed auto periodic compaction" in text:
                logs[who] = text
                return
            time.sleep(0.1)

    for who, binary in (("real", REAL), ("ours", OURS)):
        got = launch(binary, ["--auto-compaction-retention", "1s"], on_started=lambda url, d, w=who: watch(w, url, d))
        assert got.rc == STARTED
    for who in ("real", "ours"):
        assert who in logs, f"{who} never compacted"
        recs = [json.loads(x) for x in logs[who].splitlines() if x.startswith("{")]
        started = [r for r in recs if r["msg"] == "starting auto periodic compaction"]
        done = [r for r in recs if r["msg"] == "completed auto periodic compaction"]
        assert started and started[0]["compact-period"] == "1s" and isinstance(started[0]["revision"], int)
        assert done and done[0]["revision"] == started[0]["revision"] and "took" in done[0]
        assert "Traceback" not in logs[who]


def test_revision_compactor_logs_failures_and_never_raises(tmp_path):
    """A failed auto compaction is etcd's warning, retried later, never an exception escaping the loop; a done one
    is etcd's pair of info lines (the 5-minute loop is driven one round at a time on a real in-process server)."""
    from etcdctl_py.proto.etcdserverpb import rpc_pb2 as pb
    from etcdctl_py.server import config
    from etcdctl_py.server.compactor import Compactor, parse_retention
    from etcdctl_py.server.main import Server

    c, p = etcdproc.free_port(), etcdproc.free_port()
    flags = config.parse(_base_args(str(tmp_path), c, p, ()) + ["--log-level", "error"], environ={})
    srv = Server(flags)
    try:
        srv.start()
        for i in range(5):
            srv.core.put(pb.PutRequest(key=f"k{i}".encode(), value=b"v"))
        assert parse_retention("revision", "1h") == 3600 * 10**9  # etcd takes the duration's int64 as a count
        lines: list[tuple[str, str, dict]] = []
        stop = threading.Event()

        def log(level: str, msg: str, **kv) -> None:
            lines.append((level, msg, kv))

        future = Compactor(srv.core, "revision", -1000, stop, log)
        assert future.revision_step(0) == 0
        assert lines[-1][:2] == ("warn", "failed auto revision compaction")
        assert lines[-1][2]["error"] == "mvcc: required revision is a future revision"
        assert lines[-1][2]["retry-interval"] == "5m0s"
        ok = Compactor(srv.core, "revision", 2, stop, log)
        rev = srv.core.store.current_rev - 2
        assert ok.revision_step(0) == rev
        assert [x[1] for x in lines[-2:]] == ["starting auto revision compaction", "completed auto revision compaction"]
        n = len(lines)
        assert ok.revision_step(rev) == rev and len(lines) == n  # the same revision is not compacted twice
        stop.set()
        ok.run()  # returns at once on a set stop event, without raising
    finally:
        srv.stop()
