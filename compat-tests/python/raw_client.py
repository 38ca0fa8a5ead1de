"""One request at a time over a plain or SASL/PLAIN connection, with kafka-python's message
classes (Kafka's own JSON schemas) for the encoding: for tests that need an exact request and
every field of the answer (the ACL denial matrix), which a high-level client hides.

    c = RawClient("127.0.0.1:9092", "alice", "alice-secret")
    r = c.call(JoinGroupRequest, JoinGroupResponse, 5, group_id="g", ...)
    r.error_code
"""
import socket
import struct

from kafka.protocol.metadata.api_versions import ApiVersionsRequest, ApiVersionsResponse
from kafka.protocol.sasl import (SaslAuthenticateRequest, SaslAuthenticateResponse,
                                 SaslHandshakeRequest, SaslHandshakeResponse)


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf += chunk
    return bytes(buf)


def _structs(cls, fields: dict) -> dict:
    """`fields` with nested dicts (and lists of dicts) turned into the message's data classes,
    so requests can be written as plain literals."""
    out = dict(fields)
    for f in cls._struct._fields:
        v = out.get(f.name)
        if v is None or not (f.is_struct() or f.is_struct_array()):
            continue
        sub = getattr(cls, f.type_str, None) or f.data_class
        if isinstance(v, dict):
            out[f.name] = sub(**_structs(sub, v))
        elif isinstance(v, list):
            out[f.name] = [sub(**_structs(sub, x)) if isinstance(x, dict) else x for x in v]
    return out


class RawClient:
    """A connection to one broker; `user` None means no SASL (a PLAINTEXT listener)."""

    def __init__(self, bootstrap: str, user: str | None = None, password: str | None = None,
                 client_id: str = "raw-client", timeout: float = 30.0):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.settimeout(timeout)
        self.client_id = client_id
        self.correlation = 0
        self.last_request_bytes = 0
        if user is not None:
            hs = self.call(SaslHandshakeRequest, SaslHandshakeResponse, 1, mechanism="PLAIN")
            assert hs.error_code == 0, hs
            token = b"\0" + user.encode() + b"\0" + (password or "").encode()
            auth = self.call(SaslAuthenticateRequest, SaslAuthenticateResponse, 2,
                             auth_bytes=token)
            assert auth.error_code == 0, auth
        versions = self.call(ApiVersionsRequest, ApiVersionsResponse, 3,
                             client_software_name="raw-client", client_software_version="1")
        self.versions = {k.api_key: (k.min_version, k.max_version) for k in versions.api_keys}

    def call(self, request_class, response_class, version: int, **fields):
        """Sends one request of `version` and returns the decoded response."""
        self.correlation += 1
        request = request_class[version](**_structs(request_class, fields))
        request.with_header(correlation_id=self.correlation, client_id=self.client_id)
        frame = bytes(request.encode(header=True, framed=True))
        # What Kafka's quotas count as the request's size: header and body, not the prefix.
        self.last_request_bytes = len(frame) - 4
        self.sock.sendall(frame)
        size = struct.unpack(">i", _recv_exact(self.sock, 4))[0]
        data = _recv_exact(self.sock, size)
        response = response_class.decode(data, version=version, header=True)
        got = response.header.correlation_id
        assert got == self.correlation, f"correlation id {got}, sent {self.correlation}"
        return response

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def error_codes(obj) -> list[int]:
    """Every error code (`error_code`, `partition_error_code`, …) in a response, depth first
    in field order: an outcome to compare between brokers without naming each API's layout."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "error_code" or k.endswith("_error_code"):
                    found.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(obj.to_dict() if hasattr(obj, "to_dict") else obj)
    return found
