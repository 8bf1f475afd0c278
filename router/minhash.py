"""MinHash signatures and their LSH bands: near-duplicate texts found by key look-ups, not scans.

Pure and deterministic (the same text gives the same signature in every process and release of
this module), so signatures can be stored and compared later. The permutations are the classic
`(a * x + b) mod p` family over 32-bit shingle hashes, as in datasketch; the signature is 64
uint32 values (the similarity estimate), and its first 30 make 10 bands of 3 (the index keys).
Two texts whose word sets have Jaccard similarity s share at least one band with probability
1 - (1 - s^3)^10: 0.74 at s = 0.5, 0.98 at s = 0.7, 0.01 at s = 0.1. Ten keys, not the 16
bands of 4 this started with: every key is a range scan per look-up and a row per complaint in
the index, and 16 x 4 found fewer of the pairs at s = 0.5 (0.64) for 60% more work.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

NUM_PERM = 64
# The index keys are the first BANDS * ROWS values in bands of ROWS; all 64 estimate similarity.
BANDS = 10
ROWS = 3
_PRIME = (1 << 61) - 1
_MAX_HASH = (1 << 32) - 1
# A fixed seed: signatures stored by one process must compare with those of the next.
_rng = np.random.RandomState(1)
_A = _rng.randint(1, _PRIME, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, _PRIME, size=NUM_PERM, dtype=np.uint64)

Signature = npt.NDArray[np.uint32]


def signature(shingles: Iterable[str]) -> Signature:
    """The MinHash signature of a set of shingles; all-max for an empty set (matches nothing)."""
    hashes = np.fromiter(
        {zlib.crc32(shingle.encode("utf-8")) for shingle in shingles}, dtype=np.uint64
    )
    if hashes.size == 0:
        return np.full(NUM_PERM, _MAX_HASH, dtype=np.uint32)
    # uint64 arithmetic wraps like datasketch's; the mod-p permutation keeps 32 bits.
    permuted = (hashes[:, None] * _A[None, :] + _B[None, :]) % np.uint64(_PRIME)
    lowest: Signature = (permuted & np.uint64(_MAX_HASH)).min(axis=0).astype(np.uint32)
    return lowest


def similarity(first: Signature, second: Signature) -> float:
    """The estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(first == second)) / NUM_PERM


def band_keys(sig: Signature) -> list[int]:
    """One signed 64-bit key per band; equal keys mean an equal band (up to 2^-64 collisions)."""
    if int(sig[0]) == _MAX_HASH:
        return []
    raw = sig.astype("<u4").tobytes()
    width = ROWS * 4
    return [
        int.from_bytes(
            hashlib.blake2b(
                bytes([band]) + raw[band * width : (band + 1) * width], digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(BANDS)
    ]


def to_bytes(sig: Signature) -> bytes:
    """The signature as stored."""
    return sig.astype("<u4").tobytes()


def from_bytes(data: bytes) -> Signature:
    """A stored signature."""
    sig: Signature = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    return sig
