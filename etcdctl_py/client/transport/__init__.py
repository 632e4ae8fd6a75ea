"""How the client's calls reach a member: one interface (base.Transport, base.CallError), two implementations.

* h2: a small HTTP/2 + gRPC client on the standard library (hpack: its header codec; snapshot: the Snapshot
  stream read straight off the wire). Unary calls and server streams, without importing grpc.
* grpcio: grpc's channels; bidirectional streams, Observe, host-name endpoints, and everything with
  ETCDCTL_PY_TRANSPORT=grpcio.
"""
