"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs (pure, no I/O).

The audit trail is an append-only log whose integrity is proved the way
Certificate Transparency proves its logs: every entry is a leaf hashed as
``SHA-256(0x00 || entry)``, inner nodes as ``SHA-256(0x01 || left || right)``, the
tree splitting at the largest power of two smaller than its size (RFC 9162
section 2.1). A signed tree head then commits to every entry before it: changing,
dropping or reordering one changes the root. Inclusion proofs show one entry is in
a tree of a given size; consistency proofs show a smaller tree is a prefix of a
larger one, which is what a verifier holding an old checkpoint needs to accept a
new one. Algorithms follow RFC 9162 sections 2.1.1-2.1.4 literally (indices from
0), so any RFC 6962/9162 verifier accepts our proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tessera.errors import InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(InvalidInput):
    """A Merkle proof does not verify (or is malformed)."""

    reason = "invalid-proof"


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf *hashes* (RFC 9162 2.1.1), computed bottom-up in O(n)."""
    frontier = Frontier()
    for h in leaves:
        frontier.append(h)
    return frontier.root()


class Frontier:
    """The right edge of a growing tree: O(log n) perfect-subtree hashes.

    Appending a leaf and reading the root cost O(log n), so the log can store the
    root after every entry without re-reading the entries before it. The state
    serialises as the list of (height, hash) pairs, largest subtree first.
    """

    __slots__ = ("_stack", "size")

    def __init__(self, size: int = 0, stack: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(stack)
        if sum(1 << h for h, _ in self._stack) != size:
            raise InvalidInput("Merkle frontier does not match its size")

    def append(self, leaf: bytes) -> None:
        height, h = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            r = node_hash(h, r)
        return r

    def state(self) -> list[tuple[int, bytes]]:
        return list(self._stack)

    def copy(self) -> Frontier:
        return Frontier(self.size, self._stack)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaves[lo]
    return root_of(leaves[lo:hi])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1 over leaf hashes."""
    n = len(leaves)
    if not 0 <= index < n:
        raise InvalidInput(f"leaf index {index} outside a tree of size {n}")
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    # Walk down from the root, collecting siblings; the RFC appends them bottom-up.
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_mth(leaves, lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """PROOF(first, D[n]) of RFC 9162 2.1.4.1 over leaf hashes (0 < first <= n)."""
    n = len(leaves)
    if not 0 < first <= n:
        raise InvalidInput(f"consistency from size {first} to {n} is undefined")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, n, first, True
    while True:
        if m == hi - lo:
            if not complete:
                proof.append(_mth(leaves, lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            proof.append(_mth(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaves, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2); raises if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`ProofError` unless ``leaf`` is entry ``index`` of the tree ``root``."""
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofError` unless tree ``first`` is a prefix of tree ``second``."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency from size {first} to {second}")
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("equal sizes need an empty proof and equal roots")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    nodes = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node
        nodes.insert(0, first_root)
    if not nodes:
        raise ProofError("empty consistency proof")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError(f"tree of size {first} is not a prefix of the tree of size {second}")


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]
