"""Regenerate the Python modules from every .proto file under etcdctl_py/proto.

Run from anywhere: `python etcdctl_py/proto/generate.py`. Needs grpcio-tools (the `dev`/`test` extra).
Import paths are relative to the repository root, so generated modules import each other as
`etcdctl_py.proto.<pkg>.<name>_pb2`. Services get `_pb2_grpc` modules; messages get `.pyi` stubs.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    from grpc_tools import protoc  # imported here: only needed when regenerating

    root = Path(__file__).resolve().parents[2]
    protos = sorted(str(p.relative_to(root)) for p in (root / "etcdctl_py" / "proto").rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    for proto in protos:
        has_service = "service " in (root / proto).read_text()
        args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={root}", f"--pyi_out={root}"]
        if has_service:
            args.append(f"--grpc_python_out={root}")
        if protoc.main(args + [proto]) != 0:
            print(f"protoc failed on {proto}", file=sys.stderr)
            return 1
        print(f"generated {proto}")
    for d in {Path(root / p).parent for p in protos}:
        (d / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
