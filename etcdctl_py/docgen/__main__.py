"""`python -m etcdctl_py.docgen [--check] [--root DIR]`: write (or check) completions/, man/ and docs/reference/.

--check writes nothing: it lists every file that differs from what the live command trees generate, and every
generated-looking file that should no longer exist, and exits 1 if there is any.
--completion SHELL [--program PROG] prints one completion script instead (what `etcdctl-py completion` runs).
"""

from __future__ import annotations

import argparse
import sys

from etcdctl_py.docgen import completions, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m etcdctl_py.docgen", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on any difference")
    ap.add_argument("--root", default=generate.default_root(), help="the source tree (default: this checkout)")
    ap.add_argument("--completion", choices=sorted(completions.RENDER), help="print this shell's completion script")
    ap.add_argument(
        "--program",
        choices=sorted(completions.PROGRAMS),
        default="etcdctl-py",
        help="the command --completion completes (default: etcdctl-py)",
    )
    ns = ap.parse_args(argv)
    if ns.completion:
        sys.stdout.write(completions.script(ns.completion, ns.program))
        return 0
    files = generate.generate()
    if ns.check:
        problems = generate.check(ns.root, files)
        for p in problems:
            print(p)
        if problems:
            print(f"{len(problems)} generated file(s) out of date: run python -m etcdctl_py.docgen", file=sys.stderr)
            return 1
        print(f"{len(files)} generated files up to date")
        return 0
    written, removed = generate.write(ns.root, files)
    print(f"{len(files)} files generated ({written} changed, {removed} stale removed) under {ns.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
