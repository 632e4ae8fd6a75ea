"""etcd v2 HTTP API client on the standard library (keys, members, auth), shaped like client/v2."""

from .auth import AuthAPI, Role, User
from .cluster import Client
from .errors import ClusterError, EtcdError, MessageError, PlainError, V2Error
from .keys import KeysAPI, Node, Response, SetOptions
from .members import Member, MembersAPI
from .transport import Deadline, TLSConfig, Transport

__all__ = [
    "AuthAPI",
    "Client",
    "ClusterError",
    "Deadline",
    "EtcdError",
    "KeysAPI",
    "Member",
    "MembersAPI",
    "MessageError",
    "Node",
    "PlainError",
    "Response",
    "Role",
    "SetOptions",
    "TLSConfig",
    "Transport",
    "User",
    "V2Error",
]
