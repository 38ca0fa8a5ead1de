"""Checks that look past the client: the batch headers the broker stored on disk, and the
Java-compatible key partitioner that kafkajs and aiokafka both default to.

Reading the segment files shows what the client really sent (a consumer decompresses silently, and
not every client exposes a batch's producer id or sequence): Vltava writes produced batches into
Kafka-format `.log` segments verbatim, with only the base offset and leader epoch patched.
"""
import struct
from dataclasses import dataclass
from pathlib import Path

BATCH_HEADER = 61
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


@dataclass
class BatchHeader:
    base_offset: int
    magic: int
    attributes: int
    last_offset_delta: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records: int

    @property
    def codec(self) -> int:
        return self.attributes & 0x07

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & 0x20)


def segment_batches(data_dir, topic: str, partition: int) -> list[BatchHeader]:
    """Every batch header in the partition's segments, in file order (oldest segment first)."""
    pdir = Path(data_dir) / f"{topic}-{partition}"
    segments = sorted(pdir.glob("*.log"))
    assert segments, f"no segment files in {pdir}"
    out = []
    for seg in segments:
        data = seg.read_bytes()
        pos = 0
        while pos + BATCH_HEADER <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, pos)
            if pos + 12 + length > len(data):
                break  # a batch still being written; not expected in a test that waited for acks
            magic = data[pos + 16]
            attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
            producer_id, epoch, base_seq, count = struct.unpack_from(">qhii", data, pos + 43)
            out.append(BatchHeader(base_offset, magic, attributes, last_delta, producer_id, epoch,
                                   base_seq, count))
            pos += 12 + length
    return out


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (seed 0x9747b28c), as an unsigned 32-bit value."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    n = len(data)
    h = (0x9747B28C ^ n) & mask
    whole = n - n % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = n % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def default_partition(key: bytes, partitions: int) -> int:
    """Where the Java client's (and kafkajs 2.x's / aiokafka's) default partitioner puts a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
