from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KVColumns(_message.Message):
    __slots__ = ("key", "create_revision", "mod_revision", "version", "value", "lease")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_REVISION_FIELD_NUMBER: _ClassVar[int]
    MOD_REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    key: _containers.RepeatedScalarFieldContainer[bytes]
    create_revision: _containers.RepeatedScalarFieldContainer[int]
    mod_revision: _containers.RepeatedScalarFieldContainer[int]
    version: _containers.RepeatedScalarFieldContainer[int]
    value: _containers.RepeatedScalarFieldContainer[bytes]
    lease: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, key: _Optional[_Iterable[bytes]] = ..., create_revision: _Optional[_Iterable[int]] = ..., mod_revision: _Optional[_Iterable[int]] = ..., version: _Optional[_Iterable[int]] = ..., value: _Optional[_Iterable[bytes]] = ..., lease: _Optional[_Iterable[int]] = ...) -> None: ...

class RangeColumns(_message.Message):
    __slots__ = ("kvs",)
    KVS_FIELD_NUMBER: _ClassVar[int]
    kvs: KVColumns
    def __init__(self, kvs: _Optional[_Union[KVColumns, _Mapping]] = ...) -> None: ...
