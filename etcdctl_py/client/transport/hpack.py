"""HPACK (RFC 7541): the header codec of the standard-library HTTP/2 gRPC client.

The decoder is complete (static and dynamic tables, size updates, Huffman strings) because a gRPC server such as
grpc-go uses every part of it. The encoder is deliberately the simplest valid one: literal fields without indexing
and without Huffman, so it keeps no state and the peer's decoder never has to store anything for us.

Only the standard library is imported, and nothing costly runs at import. Huffman strings are decoded straight from
the canonical code's per-length limits (microseconds to set up), which is all a CLI run needs: etcd's header values
are a few bytes. A process that decodes many kilobytes gets the faster nibble automaton, built once (~5-10 ms).
"""

from __future__ import annotations

from collections import deque


class HpackError(ValueError):
    """A header block that cannot be decoded: an HTTP/2 COMPRESSION_ERROR (the connection is unusable after it),
    except for HeaderListTooLarge."""


class HeaderListTooLarge(HpackError):
    """The decoded header list exceeds max_header_list_size. The whole block was still decoded, so the dynamic table
    stays in step with the peer's and the connection remains usable (a stream error, not a connection error)."""


# RFC 7541 Appendix A. Entries 1-16 carry values; the others are names with an empty value.
_STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
) + tuple(
    (name, b"")
    for name in b"""accept-language accept-ranges accept access-control-allow-origin age allow authorization
    cache-control content-disposition content-encoding content-language content-length content-location content-range
    content-type cookie date etag expect expires from host if-match if-modified-since if-none-match if-range
    if-unmodified-since last-modified link location max-forwards proxy-authenticate proxy-authorization range referer
    refresh retry-after server set-cookie strict-transport-security transfer-encoding user-agent vary via
    www-authenticate""".split()
)

# Name -> its first static index, for the encoder's indexed-name literals.
_STATIC_NAME_INDEX: dict[bytes, int] = {}
for _i, (_name, _) in enumerate(_STATIC_TABLE, 1):
    _STATIC_NAME_INDEX.setdefault(_name, _i)
del _i, _name

_ENTRY_OVERHEAD = 32  # RFC 7541 4.1: an entry's size is len(name) + len(value) + 32
_MAX_INT = 2**32 - 1  # larger integers exceed anything HTTP/2 can carry: a decoding error (RFC 7541 5.1)
_MAX_CONTINUATION = 5  # octets after the prefix; 5 carry 35 bits, more than _MAX_INT needs

# RFC 7541 Appendix B: the bit length of the code of each symbol 0..255 and EOS (256), one base-32 digit each.
# The code is canonical (codes of one length are consecutive, in symbol order, and each length's first code follows
# the previous length's last one), so the lengths alone determine every code.
_HUFFMAN_LENGTHS = (
    "dnsssssssoussussssssssusssssssss6aacd68baa8b8666555666666678f6ca"
    "d67777777777777777777777878djde6f56565666577666567655677777fbeds"
    "kmkkmmmnmnnnnnonoomnonnnnlmnmnnomlkmmnnlnmmolmnnllmlnmnnkmmmnmmn"
    "qqkjmnmpqqqrrqopjlqrrqrollqqsrrrkoklmllnmmppooqnqrqqrrrrrsrrrrrq"
    "u"
)
_EOS = 256

# Decoder entry bits: symbol in bits 0-7, "emits a symbol" flag, next state (times 16) from bit 9; -1 = EOS seen.
_EMIT = 0x100
_STATE_SHIFT = 9
_huffman: tuple[list[int], frozenset[int]] | None = None
_canonical: tuple[list[int], list[int], list[int]] | None = None
# Huffman bytes decoded bit by bit before the automaton is built: past this its build cost has paid for itself.
_CANONICAL_BUDGET = 8192
_canonical_left = _CANONICAL_BUDGET


def huffman_codes() -> list[tuple[int, int]]:
    """(code, bit length) of each symbol 0..256, assigned canonically from _HUFFMAN_LENGTHS."""
    lengths = [int(c, 32) for c in _HUFFMAN_LENGTHS]
    codes = [(0, 0)] * len(lengths)
    code, prev = -1, 0
    for sym in sorted(range(len(lengths)), key=lambda s: (lengths[s], s)):
        code = (code + 1) << (lengths[sym] - prev)
        prev = lengths[sym]
        codes[sym] = (code, prev)
    return codes


def _huffman_tree() -> list[list[int]]:
    """The code tree's internal nodes (root 0) as [child for bit 0, child for bit 1]; a leaf is ~symbol."""
    nodes = [[0, 0]]
    for sym, (code, length) in enumerate(huffman_codes()):
        node = 0
        for shift in range(length - 1, 0, -1):
            bit = (code >> shift) & 1
            if not nodes[node][bit]:
                nodes.append([0, 0])
                nodes[node][bit] = len(nodes) - 1
            node = nodes[node][bit]
        nodes[node][code & 1] = ~sym
    return nodes


def _huffman_tables() -> tuple[list[int], frozenset[int]]:
    """A 4-bits-at-a-time decoding automaton over the tree's internal nodes, built once on first use.

    table[state * 16 + nibble] says where 4 more bits lead (every code has 5+ bits, so at most one symbol ends in
    a nibble); the final states are those where the input may stop: after up to 7 bits of EOS's all-ones prefix."""
    global _huffman
    if _huffman is None:
        nodes = _huffman_tree()
        table = []
        for start in range(len(nodes)):
            for nibble in range(16):
                table.append(_walk_nibble(nodes, start, nibble))
        final = [0]
        for _ in range(7):
            final.append(nodes[final[-1]][1])
        _huffman = table, frozenset(s << 4 for s in final)
    return _huffman


def _walk_nibble(nodes: list[list[int]], node: int, nibble: int) -> int:
    """The automaton entry for reading `nibble` (MSB first) from tree node `node`."""
    entry = 0
    for shift in (3, 2, 1, 0):
        child = nodes[node][(nibble >> shift) & 1]
        if child < 0:
            if ~child == _EOS:
                return -1
            entry, node = _EMIT | ~child, 0
        else:
            node = child
    return entry | (node << 4 << _STATE_SHIFT)


def huffman_decode(data: bytes) -> bytes:
    """Decode a Huffman-coded string literal; EOS inside it or bad padding is an HpackError (RFC 7541 5.2).

    Bit by bit while the bytes decoded so far stay within _CANONICAL_BUDGET (no table to build), then with the
    automaton, which is a few times faster per byte but costs milliseconds to build."""
    global _canonical_left
    if _huffman is None and len(data) <= _canonical_left:
        _canonical_left -= len(data)
        return huffman_decode_canonical(data)
    return huffman_decode_table(data)


def _canonical_tables() -> tuple[list[int], list[int], list[int]]:
    """(limit, base, symbols) of the canonical code, built once on first use (sub-millisecond).

    A code of n bits is complete when its value is below limit[n] (every longer code's n-bit prefix is at or above
    it, the code being canonical); its symbol is symbols[value - base[n]], symbols being ordered by (length,
    symbol)."""
    global _canonical
    if _canonical is None:
        lengths = [int(c, 32) for c in _HUFFMAN_LENGTHS]
        symbols = sorted(range(len(lengths)), key=lengths.__getitem__)  # stable: symbol order within a length
        counts = [0] * 32
        for n in lengths:
            counts[n] += 1
        limit, base = [0] * 32, [0] * 32
        first = offset = 0  # the first code of length n; how many symbols have shorter codes
        for n in range(1, 32):
            limit[n] = first + counts[n]
            base[n] = first - offset
            offset += counts[n]
            first = (first + counts[n]) << 1
        _canonical = limit, base, symbols
    return _canonical


def huffman_decode_canonical(data: bytes) -> bytes:
    """huffman_decode without the automaton: each symbol read bit by bit (from 5, the shortest code length) until its
    value is a complete code. Cheap to start, slower per byte."""
    limit, base, symbols = _canonical_tables()
    out = bytearray()
    acc = nbits = i = 0  # acc holds the nbits not yet decoded (at most 37)
    n = len(data)
    while True:
        while nbits < 30 and i < n:  # 30 bits hold the longest code
            acc = (acc << 8) | data[i]
            i += 1
            nbits += 8
        length = 5
        if nbits < length:
            break
        code = acc >> (nbits - length)
        while code >= limit[length]:
            length += 1
            if length > nbits:
                break
            code = acc >> (nbits - length)
        else:
            sym = symbols[code - base[length]]
            if sym == _EOS:
                raise HpackError("Huffman string contains EOS")
            out.append(sym)
            nbits -= length
            acc &= (1 << nbits) - 1
            continue
        break  # the input ends inside a code: what is left must be padding
    if nbits > 7 or acc != (1 << nbits) - 1:  # padding: up to 7 bits of EOS's all-ones prefix
        raise HpackError("Huffman string has invalid padding")
    return bytes(out)


def huffman_decode_table(data: bytes) -> bytes:
    """huffman_decode with the 4-bits-at-a-time automaton (built on first use)."""
    table, final = _huffman_tables()
    out = bytearray()
    state = 0
    for byte in data:
        entry = table[state | (byte >> 4)]
        if entry < 0:
            raise HpackError("Huffman string contains EOS")
        if entry & _EMIT:
            out.append(entry & 0xFF)
        entry = table[(entry >> _STATE_SHIFT) | (byte & 0x0F)]
        if entry < 0:
            raise HpackError("Huffman string contains EOS")
        if entry & _EMIT:
            out.append(entry & 0xFF)
        state = entry >> _STATE_SHIFT
    if state not in final:
        raise HpackError("Huffman string has invalid padding")
    return bytes(out)


def _decode_int(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    """The integer starting at block[pos] with a `prefix`-bit prefix (RFC 7541 5.1), and the position after it."""
    mask = (1 << prefix) - 1
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    for shift in range(0, 7 * _MAX_CONTINUATION, 7):
        if pos >= len(block):
            raise HpackError("truncated integer")
        octet = block[pos]
        pos += 1
        value += (octet & 0x7F) << shift
        if not octet & 0x80:
            if octet == 0 and shift:
                raise HpackError("overlong integer encoding")
            if value > _MAX_INT:
                break
            return value, pos
    raise HpackError("integer overflow")


def _decode_string(block: bytes, pos: int) -> tuple[bytes, int]:
    """The string literal at block[pos] (RFC 7541 5.2) and the position after it."""
    if pos >= len(block):
        raise HpackError("truncated header block: string literal expected")
    huffman = block[pos] & 0x80
    length, pos = _decode_int(block, pos, 7)
    end = pos + length
    if end > len(block):
        raise HpackError("truncated string literal")
    raw = block[pos:end]
    return (huffman_decode(raw) if huffman else raw), end


class Decoder:
    """The decoding context of one HTTP/2 connection: the dynamic table lives across its header blocks, so every
    block the peer sends must be decoded, in order, by the same Decoder."""

    def __init__(self, max_table_size: int = 4096, *, max_header_list_size: int | None = None) -> None:
        # max_table_size is our SETTINGS_HEADER_TABLE_SIZE: the peer's size updates may not exceed it.
        self.max_table_size = max_table_size
        self.max_header_list_size = max_header_list_size
        self._capacity = max_table_size  # the size the peer's encoder currently uses (its last size update)
        self._entries: deque[tuple[bytes, bytes]] = deque()  # newest first, as indexes count them
        self._size = 0

    @property
    def table(self) -> list[tuple[bytes, bytes]]:
        """The dynamic table, newest entry (index 62) first."""
        return list(self._entries)

    @property
    def table_size(self) -> int:
        """The dynamic table's size as RFC 7541 4.1 counts it."""
        return self._size

    @property
    def table_capacity(self) -> int:
        """The dynamic table's current maximum size (the peer's latest size update, else max_table_size)."""
        return self._capacity

    def decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        """The header list of one complete header block (HEADERS plus its CONTINUATION fragments)."""
        block = bytes(block)
        headers: list[tuple[bytes, bytes]] = []
        list_size = 0
        limit = self.max_header_list_size
        pos = 0
        while pos < len(block):
            first = block[pos]
            if first & 0x20 and not first & 0xC0:  # 001xxxxx: dynamic table size update
                if list_size:
                    raise HpackError("dynamic table size update after a header field")
                pos = self._size_update(block, pos)
                continue
            (name, value), pos = self._field(block, pos)
            list_size += len(name) + len(value) + _ENTRY_OVERHEAD
            if limit is None or list_size <= limit:
                headers.append((name, value))
        if limit is not None and list_size > limit:
            raise HeaderListTooLarge(f"header list size {list_size} exceeds the limit {limit}")
        return headers

    def _field(self, block: bytes, pos: int) -> tuple[tuple[bytes, bytes], int]:
        """One header field representation (RFC 7541 6.1-6.2) and the position after it."""
        first = block[pos]
        if first & 0x80:  # 1xxxxxxx: indexed header field
            index, pos = _decode_int(block, pos, 7)
            return self._lookup(index), pos
        prefix = 6 if first & 0x40 else 4  # 01xxxxxx: incremental indexing; 0000xxxx / 0001xxxx: not indexed
        index, pos = _decode_int(block, pos, prefix)
        if index:
            name = self._lookup(index)[0]
        else:
            name, pos = _decode_string(block, pos)
        value, pos = _decode_string(block, pos)
        if prefix == 6:
            self._add(name, value)
        return (name, value), pos

    def _size_update(self, block: bytes, pos: int) -> int:
        """Apply a dynamic table size update (RFC 7541 6.3); return the position after it."""
        size, pos = _decode_int(block, pos, 5)
        if size > self.max_table_size:
            raise HpackError(f"dynamic table size update to {size} exceeds the maximum {self.max_table_size}")
        self._capacity = size
        self._evict(size)
        return pos

    def _lookup(self, index: int) -> tuple[bytes, bytes]:
        """The entry at `index` in the static-then-dynamic index space (RFC 7541 2.3.3)."""
        if index == 0:
            raise HpackError("header field index 0")
        if index <= len(_STATIC_TABLE):
            return _STATIC_TABLE[index - 1]
        dynamic = index - len(_STATIC_TABLE) - 1
        if dynamic >= len(self._entries):
            raise HpackError(f"header field index {index} is out of range")
        return self._entries[dynamic]

    def _add(self, name: bytes, value: bytes) -> None:
        """Insert an entry, evicting the oldest ones to make room (RFC 7541 4.4)."""
        size = len(name) + len(value) + _ENTRY_OVERHEAD
        if size > self._capacity:
            self._evict(0)
            return
        self._evict(self._capacity - size)
        self._entries.appendleft((name, value))
        self._size += size

    def _evict(self, limit: int) -> None:
        """Drop the oldest entries until the table's size is at most `limit`."""
        while self._size > limit:
            name, value = self._entries.pop()
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD


def _encode_int(out: bytearray, flags: int, prefix: int, value: int) -> None:
    """Append `value` with a `prefix`-bit prefix whose other bits are `flags` (RFC 7541 5.1)."""
    mask = (1 << prefix) - 1
    if value < mask:
        out.append(flags | value)
        return
    out.append(flags | mask)
    value -= mask
    while value >= 0x80:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)


def _encode_string(out: bytearray, data: bytes) -> None:
    """Append a raw (not Huffman-coded) string literal."""
    _encode_int(out, 0x00, 7, len(data))
    out += data


def encode(headers: list[tuple[bytes, bytes]]) -> bytes:
    """A header block of literal fields without indexing (RFC 7541 6.2.2): the name by static index when the static
    table has it, else literal; no Huffman. Names are sent as given (HTTP/2 wants them lowercase)."""
    out = bytearray()
    for name, value in headers:
        index = _STATIC_NAME_INDEX.get(name)
        if index is None:
            out.append(0x00)
            _encode_string(out, name)
        else:
            _encode_int(out, 0x00, 4, index)
        _encode_string(out, value)
    return bytes(out)
