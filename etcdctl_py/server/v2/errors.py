"""v2 API error codes, messages and HTTP statuses (etcd's v2error package)."""

from __future__ import annotations

from etcdctl_py.gofmt import go_json

ECODE_KEY_NOT_FOUND = 100
ECODE_TEST_FAILED = 101
ECODE_NOT_FILE = 102
ECODE_NOT_DIR = 104
ECODE_NODE_EXIST = 105
ECODE_ROOT_RONLY = 107
ECODE_DIR_NOT_EMPTY = 108
ECODE_UNAUTHORIZED = 110
ECODE_PREV_VALUE_REQUIRED = 201
ECODE_TTL_NAN = 202
ECODE_INDEX_NAN = 203
ECODE_INVALID_FIELD = 209
ECODE_INVALID_FORM = 210
ECODE_REFRESH_VALUE = 211
ECODE_REFRESH_TTL_REQUIRED = 212
ECODE_RAFT_INTERNAL = 300
ECODE_EVENT_INDEX_CLEARED = 401

MESSAGES = {
    100: "Key not found",
    101: "Compare failed",
    102: "Not a file",
    103: "Reached the max number of peers in the cluster",
    104: "Not a directory",
    105: "Key already exists",
    106: "The prefix of given key is a keyword in etcd",
    107: "Root is read only",
    108: "Directory not empty",
    109: "Peer address has existed",
    110: "The request requires user authentication",
    200: "Value is Required in POST form",
    201: "PrevValue is Required in POST form",
    202: "The given TTL in POST form is not a number",
    203: "The given index in POST form is not a number",
    204: "Value or TTL is required in POST form",
    205: "The given timeout in POST form is not a number",
    206: "Name is required in POST form",
    207: "Index or value is required",
    208: "Index and value cannot both be specified",
    209: "Invalid field",
    210: "Invalid POST form",
    211: "Value provided on refresh",
    212: "A TTL must be provided on refresh",
    300: "Raft Internal Error",
    301: "During Leader Election",
    400: "watcher is cleared due to etcd recovery",
    401: "The event in requested index is outdated and cleared",
    402: "Standby Internal Error",
    403: "Invalid active size",
    404: "Standby remove delay",
    500: "Client Internal Error",
}

STATUS = {100: 404, 102: 403, 108: 403, 110: 401, 101: 412, 105: 412, 300: 500, 301: 500}


class V2StoreError(Exception):
    """A v2error.Error: code, cause and the store index at the time of failure."""

    def __init__(self, code: int, cause: str = "", index: int = 0) -> None:
        super().__init__(code, cause, index)
        self.code, self.cause, self.index = code, cause, index

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def body(self) -> bytes:
        d: dict = {"errorCode": self.code, "message": MESSAGES.get(self.code, "")}
        if self.cause:
            d["cause"] = self.cause
        d["index"] = self.index
        return (go_json(d) + "\n").encode()


class InternalError(Exception):
    """A non-v2error failure inside apply; etcd answers 300 Raft Internal Error (HTTP 500)."""
