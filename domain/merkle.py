"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Pure functions over bytes, no I/O. Leaves and interior nodes are hashed with
different one-byte prefixes (0x00 and 0x01) so that a leaf can never be passed
off as an interior node (second-preimage resistance). The tree shape depends
only on its size: a tree of n > 1 leaves splits at the largest power of two
smaller than n (RFC 6962 section 2.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT: bytes = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right).digest()


def _fold(peaks: Sequence[bytes]) -> bytes:
    """Root of the perfect subtrees `peaks` (left to right, strictly decreasing sizes)."""
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    # The RFC's recursive split makes the right-most (smallest) subtrees the deepest.
    for peak in reversed(peaks[:-1]):
        root = sha256(b"\x01" + peak + root).digest()
    return root


class MerkleTree:
    """Append-only tree that keeps every perfect-subtree hash, so past roots and proofs are cheap.

    `_levels[k][i]` is the hash of leaves [i * 2**k, (i + 1) * 2**k). About 2n hashes in memory.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append one leaf's data; returns its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append an already-hashed leaf; returns its index. Amortised one node hash per append."""
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(h)
        i, level = index, 0
        while i & 1:  # this node completes a pair: its parent is now known forever
            h = sha256(b"\x01" + levels[level][i - 1] + h).digest()
            level += 1
            if level == len(levels):
                levels.append([])
            levels[level].append(h)
            i >>= 1
        return index

    def leaf_hash_at(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} not in a tree of size {self.size}")
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """Root of the tree made of the first `size` leaves (default: all)."""
        if size is None:
            size = self.size
        self._check_size(size)
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size]), leaf-side first."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:  # walk down from the root, collecting the sibling of each subtree entered
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if index < lo + k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[0:new_size]); empty when the sizes are equal."""
        self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
        path: list[bytes] = []
        lo, hi, whole = 0, new_size, True  # `whole`: the subtree is the old tree, whose root the verifier has
        while old_size - lo != hi - lo:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if old_size - lo <= k:
                path.append(self._range_hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range_hash(lo, lo + k))
                lo += k
                whole = False
        if not whole:
            path.append(self._range_hash(lo, hi))
        path.reverse()
        return path

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} not in 0..{self.size}")

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range whose start is a multiple of bit_ceil(hi - lo), as in the RFC's splits."""
        peaks: list[bytes] = []
        while lo < hi:
            k = (hi - lo).bit_length() - 1
            peaks.append(self._levels[k][lo >> k])
            lo += 1 << k
        return _fold(peaks)


class RootAccumulator:
    """Streaming root computation in O(log n) memory: a stack of the perfect-subtree roots (compact range)."""

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._peaks: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        """Append one leaf's data."""
        self.append_leaf_hash(sha256(b"\x00" + data).digest())

    def append_leaf_hash(self, h: bytes) -> None:
        """Append an already-hashed leaf. Hot path of `audit verify`: amortised one node hash per leaf."""
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        peaks = self._peaks
        n = self._size
        self._size = n + 1
        while n & 1:  # each trailing 1 bit of the old size is a peak that now merges with its right sibling
            h = sha256(b"\x01" + peaks.pop() + h).digest()
            n >>= 1
        peaks.append(h)

    def root(self) -> bytes:
        return _fold(self._peaks)


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def _is_size(n: object) -> bool:
    # RFC 9162 sizes are uint64; the bound also keeps the bit loops short whatever a caller passes.
    return isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1 << 64


def _proof_hashes(proof: object) -> list[bytes] | None:
    """The proof as a list of 32-byte hashes, or None if it is anything else (the verifiers never raise)."""
    if not isinstance(proof, Sequence) or isinstance(proof, (bytes, bytearray, str)):
        return None
    hashes = list(proof)
    return hashes if all(_is_hash(h) for h in hashes) else None


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `proof` put `leaf_hash` at `index` of the tree `root` of `size` leaves?"""
    path = _proof_hashes(proof)
    if path is None or not (_is_size(index) and _is_size(size) and index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:  # the proof is longer than the path to the root
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            # Skip the levels where this node is the right-most and has no sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree `new_root` of `new_size` leaves an append-only extension of `old_root`?

    Equal sizes need an empty proof and equal roots. Like RFC 9162 (0 < first) and
    transparency-dev/merkle, a proof from the empty tree (old_size == 0) is refused:
    it would prove nothing, so callers must handle that case themselves.
    """
    path = _proof_hashes(proof)
    if path is None or not (_is_size(old_size) and _is_size(new_size) and _is_hash(old_root) and _is_hash(new_root)):
        return False
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    if old_size & (old_size - 1) == 0:  # a perfect old tree is a node of the new one: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # levels where the old tree's right edge is a right child add nothing: the path starts above
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha256(b"\x01" + c + fr).digest()
            sr = sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
