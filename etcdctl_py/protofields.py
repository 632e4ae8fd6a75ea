"""Walking a protobuf message field by field as Go's generated structs lay it out.

Both of our JSON dialects (`-w json`, Go's encoding/json; the gateway's, jsonpb) see a oneof as one member of
the struct, in the place of its first field. One walk gives them that order, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def fields_in_order(msg: Any) -> Iterator[tuple[Any, Any]]:
    """(field, oneof) for each member of `msg` in declaration order.

    A plain field gives (its FieldDescriptor, None). A oneof is given once, where its first field stands, as (the
    FieldDescriptor of the field that is set, or None when none is, its OneofDescriptor).
    """
    seen: set[str] = set()
    for fd in msg.DESCRIPTOR.fields:
        oneof = fd.containing_oneof
        if oneof is None:
            yield fd, None
        elif oneof.name not in seen:
            seen.add(oneof.name)
            which = msg.WhichOneof(oneof.name)
            yield (None if which is None else msg.DESCRIPTOR.fields_by_name[which]), oneof
