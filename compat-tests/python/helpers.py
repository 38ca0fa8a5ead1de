"""Test data and comparison shared by the Python client tests.

Records are a deterministic function of their index, so expected values never need storing and a
failure message can always say which record was wrong.
"""
import random
import time
from dataclasses import dataclass, field

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass
class Rec:
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)  # [(str, bytes | None)], order and duplicates matter
    timestamp: int = 0


def base_timestamp() -> int:
    # An hour in the past: clearly not "now", so a broker that overwrites CreateTime is caught,
    # and well within any timestamp-bounds check.
    return (int(time.time()) - 3600) * 1000


def make_record(i: int, base_ts: int, null_header_values: bool = True) -> Rec:
    r = random.Random(0x5EED * 1_000_003 + i)
    key = None if i % 50 == 49 else f"key-{i % 100}".encode()
    if i % 97 == 13:
        value = None  # tombstone
    else:
        size = 0 if i % 31 == 0 else r.randrange(1, 1500 if r.random() < 0.5 else 80)
        if i % 3 == 0:
            value = r.randbytes(size)
        else:  # compressible text
            value = "".join(r.choice("abcdefgh") for _ in range(size)).encode()
    headers = [("trace", f"t-{i}".encode())]
    if i % 2 == 0:
        headers.append(("src", b"compat"))
    if i % 5 == 0:
        headers.append(("trace", f"dup-{i}".encode()))  # duplicate key, must keep order
    if null_header_values and i % 11 == 0:
        headers.append(("nullh", None))
    if i % 17 == 0:
        headers.append(("empty", b""))
    return Rec(key, value, headers, base_ts + i)


class Mismatches:
    """Collect problems so one failure reports many, not just the first."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, msg: str):
        self.items.append(msg)

    def check(self, cond: bool, msg: str):
        if not cond:
            self.add(msg)

    def assert_none(self, what: str):
        if self.items:
            shown = "\n  ".join(self.items[:30])
            more = f"\n  ... and {len(self.items) - 30} more" if len(self.items) > 30 else ""
            raise AssertionError(f"{what}: {len(self.items)} mismatches\n  {shown}{more}")


def compare(m: Mismatches, where: str, got_key, got_value, got_headers, got_ts, want: Rec):
    m.check(got_key == want.key, f"{where}: key {got_key!r:.60} != {want.key!r:.60}")
    m.check(got_value == want.value, f"{where}: value {got_value!r:.60} != {want.value!r:.60}")
    got_h = [(k, v) for k, v in (got_headers or [])]
    m.check(got_h == want.headers, f"{where}: headers {got_h!r} != {want.headers!r}")
    m.check(got_ts == want.timestamp, f"{where}: timestamp {got_ts} != {want.timestamp}")


def check_offsets_contiguous(m: Mismatches, acked: dict):
    """acked: {(partition, offset): index}. Fresh topic, so each partition must be 0..n-1."""
    by_p: dict[int, list[int]] = {}
    for (p, o) in acked:
        by_p.setdefault(p, []).append(o)
    for p, offs in sorted(by_p.items()):
        offs.sort()
        m.check(offs == list(range(len(offs))),
                f"partition {p}: acknowledged offsets are not 0..{len(offs) - 1}: "
                f"first {offs[:5]} last {offs[-5:]}")
