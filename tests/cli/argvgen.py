"""A seeded generator of etcdctl argument lists: every verb the fuzz can run safely, its flags, good and bad values.

Each case owns a key prefix (`fz<seed>-<index>/`) and user/role names made from it, so a case only mutates what it
owns; nothing it does can break the twin cluster (no member is ever really added, auth can never be enabled since
no `root` user is ever created). Left out, because they wait for events or write files: watch, lock, elect,
make-mirror, snapshot save/restore, check perf/datascale, and `completion` (an etcdctl-py addition).

Endpoints are generated around the literal 127.0.0.1 only: `{ep}` and `{port}` stand for each side's own server.
A generated endpoint must never make either tool look a host name up (`assert_no_lookup`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

ODD = ["\udcff", "\udcfe\udcff", "é", "ключ", "\t", " ", "\n", "\x01", "\udcc3(", "日本"]

DURATIONS = [
    "1s",
    "500ms",
    "0",
    "0s",
    "-1s",
    "abc",
    "1",
    "1h",
    "+1s",
    "1.5s",
    "2562047h",
    "2562048h",
    "1e3s",
    "9223372036854775807ns",
    "9223372036854775808ns",
    "1µs",
    "1us",
    "",
    " 1s",
    "1S",
    "1h1m",
]
INTS = [
    "0",
    "1",
    "-1",
    "5",
    "abc",
    "1e3",
    "0x10",
    "9223372036854775807",
    "9223372036854775808",
    "",
    " 1",
    "+3",
    "010",
    "-9223372036854775808",
]
BOOLS = ["", "=true", "=false", "=maybe", "=1", "=0", "=T", "=FALSE", "=t"]
FORMATS = ["simple", "json", "fields", "table", "protobuf", "xml", "", "JSON"]

GOOD_ENDPOINTS = [
    "{ep}",
    "http://{ep}",
    "http://{ep}/path",
    "http://u:p@{ep}",
    "HTTP://{ep}",
    "http://{ep}?q=1",
    "http://{ep}#frag",
    " {ep} ",
    "[127.0.0.1]:{port}",
    ":{port}",
    "http://:{port}",
    "{ep},{ep}",
    "127.0.0.1:0{port}",
    "http://user@{ep}/a/b",
]
BAD_ENDPOINTS = [
    "127.0.0.1",
    "http://127.0.0.1",
    "127.0.0.1:",
    "http://127.0.0.1:",
    "ftp://{ep}",
    "http:/{ep}",
    "http//{ep}",
    "{ep}/x",
    "127.0.0.1:abc",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "http://{ep}:1",
    "unix:///nonexistent-dir/etcd.sock",
    "unix://nonexistent.sock",
    "unixs://nonexistent.sock",
    "unix:nonexistent.sock",
    "none://{ep}",
    "http://%zz",
    "http://{ep}/%zz",
    "127.1:{port}",
    "http://127.0.0.1 :{port}",
    "127.0.0.1:0",
    "http://[::1]:1",
    "[::1]:1",
    "https://{ep}",
    "127.0.0.1:1",
    "http://[127.0.0.1:{port}",
    "127.0.0.1]:{port}",
    "127.0.0.1:\udcff",
    "http://u:p:q@{ep}",
    "http://a b@{ep}",
    "unix:",
    "127.0.0.1:1,{ep}",
    "http://",
    ",",
]
NO_ENDPOINTS = ["", ",,"]


@dataclass
class Case:
    index: int
    argv: list[str]
    stdin: bytes = b""
    endpoints: bool = True  # prepend `--endpoints {ep}`
    notes: list[str] = field(default_factory=list)

    def render(self, ep: str, port: int) -> list[str]:
        args = (["--endpoints", "{ep}"] if self.endpoints else []) + self.argv
        return [a.replace("{ep}", ep).replace("{port}", str(port)) for a in args]


class ArgvGen:
    """`ArgvGen(seed).cases(n)`: n reproducible cases."""

    def __init__(self, seed: int):
        self.seed = seed
        self.r = random.Random(seed)

    # ------------------------------------------------------------ small pieces
    def pick(self, items):  # noqa: ANN001, ANN201
        return self.r.choice(items)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def key(self, prefix: str) -> str:
        tail = self.pick(["a", "b", "k1", "dir/x", "", "z" * 3] + ODD)
        return prefix + tail

    def value(self) -> str:
        return self.pick(["v", "value 1", "", "-x", '"quoted"', "'single'", "a,b"] + ODD)

    def bool_flag(self, name: str) -> list[str]:
        return [f"--{name}{self.pick(BOOLS)}"]

    def int_flag(self, name: str, good: list[str] | None = None) -> list[str]:
        v = self.pick((good or []) * 3 + INTS)
        return [f"--{name}={v}"] if self.chance(0.7) else [f"--{name}", v]

    def str_flag(self, name: str, values: list[str]) -> list[str]:
        v = self.pick(values)
        return [f"--{name}={v}"] if self.chance(0.6) else [f"--{name}", v]

    def some(self, options: list, k: int = 2) -> list[str]:
        out: list[str] = []
        for _ in range(self.r.randint(0, k)):
            opt = self.pick(options)
            out += opt() if callable(opt) else list(opt)
        return out

    def hexid(self) -> str:
        return self.pick(["1", "abc", "zz", "-1", "", "ffffffffffffffff", "10000000000000000", "0x12", "deadbeef"])

    # ------------------------------------------------------------ verbs
    def v_get(self, p: str) -> tuple[list[str], bytes]:
        args = ["get", self.key(p)]
        if self.chance(0.3):
            args.append(p + self.pick(["z", "", "\udcff"]))
        args += self.some(
            [
                lambda: self.str_flag("consistency", ["l", "s", "x", "", "L"]),
                lambda: self.str_flag("order", ["ASCEND", "DESCEND", "up", "", "ascend"]),
                lambda: self.str_flag("sort-by", ["KEY", "CREATE", "MODIFY", "VALUE", "VERSION", "key", "bogus"]),
                lambda: self.bool_flag("prefix"),
                lambda: self.bool_flag("from-key"),
                lambda: self.int_flag("limit", ["1", "2"]),
                lambda: self.int_flag("rev", ["0", "1", "2"]),
                lambda: self.bool_flag("keys-only"),
                lambda: self.bool_flag("count-only"),
                lambda: self.bool_flag("print-value-only"),
                lambda: self.int_flag("min-mod-revision"),
                lambda: self.int_flag("max-mod-revision"),
                lambda: self.int_flag("min-create-revision"),
                lambda: self.int_flag("max-create-revision"),
            ],
            3,
        )
        return args, b""

    def v_put(self, p: str) -> tuple[list[str], bytes]:
        args = ["put", self.key(p)]
        stdin = b""
        if self.chance(0.8):
            args.append(self.value())
        else:
            stdin = self.pick([b"from stdin", b"\xff\xfe", b"", b"a\nb\n", b"\x00\x01"])
        args += self.some(
            [
                lambda: self.str_flag("lease", ["0", "1", "abc", "-1", "694d7a5c3b6e0a0f", ""]),
                lambda: self.bool_flag("prev-kv"),
                lambda: self.bool_flag("ignore-value"),
                lambda: self.bool_flag("ignore-lease"),
            ],
            2,
        )
        return args, stdin

    def v_del(self, p: str) -> tuple[list[str], bytes]:
        args = ["del", self.key(p)]
        if self.chance(0.3):
            args.append(p + self.pick(["z", "\udcff", "b"]))
        args += self.some([lambda: self.bool_flag("prefix"), lambda: self.bool_flag("prev-kv")], 2)
        return args, b""

    def v_txn(self, p: str) -> tuple[list[str], bytes]:
        k = self.key(p).replace("\n", "")
        lines = self.pick(
            [
                f'value("{k}") = "v"\n\nput {k} v1\n\nget {k}\n\n',
                f'mod("{k}") > "0"\n\nput {k} a\n\ndel {k}\n\n',
                f'create("{k}") = "0"\nversion("{k}") < "5"\n\nput {k} new\n\n\n',
                f"\n\nput {k} v\nget {k} --prefix\n\n",
                f"\n\nget {k} --limit=1\ndel {k} {p}z\n\n",
                f'value("{k}") = "x"\n\n\nput {k} failure\n\n',
                "bogus\n\n\n",
                f'value("{k}") ~ "v"\n\n\n\n',
                f"\n\nput {k}\n\n",
                f'\n\nput {k} "quoted value"\n\n',
                f"\n\nput {k} 'single value'\n\n",
                f"\n\nfoo {k}\n\n",
                f"\n\nput {k} v --lease=1\n\n",
            ]
        )
        stdin = lines.encode("utf-8", "surrogateescape")
        if self.chance(0.2):
            stdin = self.pick(
                [
                    b"\xff\xfe",
                    b"\xff\xfe\n",
                    b"\n\nput " + p.encode() + b"x \xff\xfe\n\n",
                    b"",
                    b"\n",
                    b"\n\n\n",
                    b'value("' + p.encode() + b'\xff") = "\xfe"\n\n\n',
                ]
            )
        args = ["txn"] + self.some([lambda: self.bool_flag("interactive")], 1)
        return args, stdin

    def v_compaction(self, p: str) -> tuple[list[str], bytes]:
        rev = self.pick(["1", "2", "0", "-1", "abc", "99999999", "", "3"])
        return ["compaction", rev] + self.some([lambda: self.bool_flag("physical")], 1), b""

    def v_alarm(self, p: str) -> tuple[list[str], bytes]:
        return ["alarm", self.pick(["list", "disarm", "bogus", ""])], b""

    def v_defrag(self, p: str) -> tuple[list[str], bytes]:
        return ["defrag"] + self.some([lambda: self.bool_flag("cluster")], 1), b""

    def v_endpoint(self, p: str) -> tuple[list[str], bytes]:
        sub = self.pick(["health", "status", "hashkv", "bogus"])
        args = ["endpoint", sub] + self.some([lambda: self.bool_flag("cluster")], 1)
        if sub == "hashkv":
            args += self.some([lambda: self.int_flag("rev", ["0", "1"])], 1)
        return args, b""

    def v_member(self, p: str) -> tuple[list[str], bytes]:
        bad_urls = [
            "nonsense",
            "ftp://127.0.0.1:1",
            "http://127.0.0.1",
            "http://127.0.0.1:1/p",
            "http://%zz:1",
            "http://127.0.0.1:1#%zz",
            ":x",
            "unix://a",
            "http://[::1:5",
            "http://a b:1",
            "",
            "http://127.0.0.1:1,nonsense",
            "\udcff",
            "https://127.0.0.1",
            "http://127.0.0.1:abc",
        ]
        sub = self.pick(["list", "add", "update", "remove", "promote", "bogus"])
        if sub == "list":
            return ["member", "list"], b""
        if sub == "add":
            args = ["member", "add"] + ([p + "m"] if self.chance(0.85) else [])
            if self.chance(0.85):
                args += self.str_flag("peer-urls", bad_urls)
            if self.chance(0.1):
                args.append("http://127.0.0.1:1")
            return args + self.some([lambda: self.bool_flag("learner")], 1), b""
        if sub == "update":
            args = ["member", "update", self.hexid()]
            if self.chance(0.85):
                args += self.str_flag("peer-urls", bad_urls + ["http://127.0.0.1:1"])
            return args, b""
        return ["member", sub] + ([self.hexid()] if self.chance(0.85) else []), b""

    def v_lease(self, p: str) -> tuple[list[str], bytes]:
        sub = self.pick(["grant", "revoke", "timetolive", "list", "keep-alive"])
        if sub == "grant":
            return ["lease", "grant"] + (
                [self.pick(["10", "0", "-1", "abc", "9223372036854775807", "1"])] if self.chance(0.9) else []
            ), b""
        if sub == "list":
            return ["lease", "list"], b""
        args = ["lease", sub] + ([self.hexid()] if self.chance(0.9) else [])
        if sub == "timetolive":
            args += self.some([lambda: self.bool_flag("keys")], 1)
        if sub == "keep-alive":
            args.append("--once")
        return args, b""

    def v_user(self, p: str) -> tuple[list[str], bytes]:
        # names and passwords stay UTF-8: etcdctl-py refuses other bytes there (a documented difference, see
        # fuzz_allowed), and a write that only one twin makes would put the twins' revisions apart
        name = p.replace("/", "") + self.pick(["u", "u2", "", "é"])
        sub = self.pick(["add", "delete", "get", "list", "passwd", "grant-role", "revoke-role", "bogus"])
        stdin = self.pick([b"", b"pw\n", b"pw\npw\n", "é\né\n".encode(), b"a\nb\n"])
        if sub == "add":
            who = self.pick([name, name + ":pw", name + ":", ":pw", ""])
            args = ["user", "add", who] + self.some(
                [
                    lambda: self.str_flag("new-user-password", ["pw", "", "ü"]),
                    lambda: self.bool_flag("interactive"),
                    lambda: self.bool_flag("no-password"),
                ],
                2,
            )
            return args, stdin
        if sub == "list":
            return ["user", "list"], b""
        args = ["user", sub] + ([name] if self.chance(0.9) else [])
        if sub in ("grant-role", "revoke-role"):
            args += [p.replace("/", "") + "r"] if self.chance(0.8) else []
        if sub == "get":
            args += self.some([lambda: self.bool_flag("detail")], 1)
        if sub == "passwd":
            args += self.some([lambda: self.bool_flag("interactive")], 1)
        return args, stdin

    def v_role(self, p: str) -> tuple[list[str], bytes]:
        name = p.replace("/", "") + self.pick(["r", "r2", "", "日本"])
        sub = self.pick(["add", "delete", "get", "list", "grant-permission", "revoke-permission", "bogus"])
        if sub == "list":
            return ["role", "list"], b""
        args = ["role", sub] + ([name] if self.chance(0.9) else [])
        if sub == "grant-permission":
            args += [self.pick(["read", "write", "readwrite", "bogus", "READ"])] if self.chance(0.9) else []
            args += [self.key(p)] if self.chance(0.9) else []
            if self.chance(0.3):
                args.append(p + "z")
            args += self.some([lambda: self.bool_flag("prefix"), lambda: self.bool_flag("from-key")], 1)
        if sub == "revoke-permission":
            args += [self.key(p)] if self.chance(0.9) else []
            args += self.some([lambda: self.bool_flag("prefix"), lambda: self.bool_flag("from-key")], 1)
        return args, b""

    def v_auth(self, p: str) -> tuple[list[str], bytes]:
        # `auth enable` always fails: no `root` user ever exists on the twins
        return ["auth", self.pick(["status", "enable", "disable", "bogus"])], b""

    def v_move_leader(self, p: str) -> tuple[list[str], bytes]:
        return ["move-leader"] + ([self.hexid()] if self.chance(0.9) else []), b""

    def v_version(self, p: str) -> tuple[list[str], bytes]:
        return ["version"], b""

    def v_snapshot_status(self, p: str) -> tuple[list[str], bytes]:
        return ["snapshot", "status"] + (
            [self.pick(["/nonexistent/x.db", "", "/", "\udcff"])] if self.chance(0.9) else []
        ), b""

    def v_unknown(self, p: str) -> tuple[list[str], bytes]:
        return [self.pick(["gte", "pt", "bogus", "\udcff", "memer", "lese", "-x", "--bogus", "g", "del", "sta"])], b""

    VERBS = [
        "get",
        "get",
        "put",
        "put",
        "del",
        "txn",
        "txn",
        "compaction",
        "alarm",
        "defrag",
        "endpoint",
        "member",
        "member",
        "lease",
        "user",
        "role",
        "auth",
        "move_leader",
        "version",
        "snapshot_status",
        "unknown",
    ]

    # ------------------------------------------------------------ globals and mutations
    def globals_(self, unbounded: bool) -> tuple[list[str], bool, list[str]]:
        """Global flags: (args, whether the default `--endpoints {ep}` stays, notes).

        `unbounded`: the verb waits without a deadline (etcdctl's txn, user, role and some lease verbs use
        context.TODO), so only endpoints that work are generated for it."""
        args: list[str] = []
        keep_ep = True
        notes: list[str] = []
        if self.chance(0.25):
            keep_ep = False
            kind = self.r.random()
            eps = self.pick(
                GOOD_ENDPOINTS if kind < 0.35 or unbounded else BAD_ENDPOINTS if kind < 0.95 else NO_ENDPOINTS
            )
            args += [f"--endpoints={eps}"] if self.chance(0.5) else ["--endpoints", eps]
            notes.append("endpoints")
            if "{ep}" in eps or "{port}" in eps:
                notes.append("may-connect")  # a command that can succeed gets time to, even on a loaded machine
        if not keep_ep:
            return args, keep_ep, notes  # the case runs with short fixed timeouts (see case())
        if self.chance(0.12):
            args += self.str_flag(
                "dial-timeout", ["1s", "1us", "1ns", "2s", "0", "-1s", "abc", "", "2562047h", "2562048h", "200ms", "1"]
            )
        if self.chance(0.12):
            args += self.str_flag(
                "command-timeout",
                ["2s", "0", "-1s", "abc", "2562047h", "2562048h", "9223372036854775807ns", "1", "", "3s"],
            )
        if self.chance(0.05):
            args += self.str_flag("keepalive-time", DURATIONS)
        if self.chance(0.05):
            args += self.str_flag("keepalive-timeout", DURATIONS)
        if self.chance(0.2):
            args += self.str_flag("write-out", FORMATS) if self.chance(0.5) else ["-w" + self.pick(FORMATS[:5])]
        if self.chance(0.1):
            args += self.bool_flag("hex")
        if unbounded:
            return args, keep_ep, notes  # no TLS either: against the plain twins it would wait forever too
        if self.chance(0.04):
            args += self.bool_flag("insecure-transport")
        if self.chance(0.04):
            args += self.bool_flag("insecure-skip-tls-verify")
        if self.chance(0.03):
            args += self.bool_flag("insecure-discovery")
        if self.chance(0.06):
            flag = self.pick(["cert", "key", "cacert"])
            args += self.str_flag(flag, ["/nonexistent/f.pem", "", "/", "/dev/null", "\udcff"])
        if self.chance(0.05):
            args += self.str_flag("user", ["fzuser:pw", "fzuser", "", ":", "a:b:c"])
        if self.chance(0.03):
            args += self.str_flag("password", ["pw", ""])
        if self.chance(0.03):
            args += ["--discovery-srv="]  # never a domain: that would send DNS queries
        if self.chance(0.03):
            args += ["--debug"]
        return args, keep_ep, notes

    def mutate(self, args: list[str]) -> list[str]:
        """Make a good list bad: an extra word, a missing word, an unknown or misspelt flag, odd bytes, `--`."""
        m = self.r.randint(0, 7)
        if m == 0 and len(args) > 1:
            del args[self.r.randrange(1, len(args))]
        elif m == 1:
            args.append(self.pick(["extra", "\udcff", "--", "-", "x y"]))
        elif m == 2:
            args.insert(
                self.r.randint(1, len(args)),
                self.pick(["--bogus", "--prefx", "-Z", "--limit", "--=x", "---x", "--prefix=", "-w"]),
            )
        elif m == 3:
            args.insert(self.r.randint(0, len(args)), "--")
        elif m == 4 and args:
            args[0] = args[0][:-1] if len(args[0]) > 2 else args[0] + "x"
        return args

    def case(self, index: int) -> Case:
        prefix = f"fz{self.seed}-{index}/"
        verb = self.pick(self.VERBS)
        args, stdin = getattr(self, "v_" + verb)(prefix)
        unbounded = args[0] in ("txn", "user", "role") or args[:2] in (
            ["lease", "timetolive"],
            ["lease", "list"],
            ["lease", "keep-alive"],
        )
        gargs, keep_ep, notes = self.globals_(unbounded)
        if self.chance(0.25) and "keep-alive" not in args:  # keep-alive without --once never ends
            args = self.mutate(args)
            notes.append("mutated")
        # globals before, after or in the middle of the verb's words (pflag reads them anywhere)
        where = self.r.randint(0, len(args))
        argv = args[:where] + gargs + args[where:] if self.chance(0.5) else gargs + args
        if not keep_ep:
            # an endpoint that cannot be dialed costs the command timeout: keep it short
            wait = "2s" if "may-connect" in notes else "300ms"
            argv = [f"--command-timeout={wait}", f"--dial-timeout={wait}"] + argv
        return Case(index, argv, stdin, keep_ep, notes)

    def cases(self, n: int) -> list[Case]:
        out = [self.case(i) for i in range(n)]
        for c in out:
            assert_no_lookup(c)
        return out


def assert_no_lookup(case: Case) -> None:
    """No generated endpoint may name a host that either tool would resolve (only literal 127.0.0.1 and forms
    that Go rejects before any lookup)."""
    from etcdctl_py.client.endpoints import parse_endpoint

    argv = case.render("127.0.0.1:2379", 2379)
    for i, a in enumerate(argv):
        value = None
        if a.startswith("--endpoints="):
            value = a.split("=", 1)[1]
        elif a == "--endpoints" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is None:
            continue
        for ep in value.split(","):
            parsed = parse_endpoint(ep)
            assert not parsed.target.startswith("dns:"), f"case {case.index} would need a lookup: {ep!r}"
