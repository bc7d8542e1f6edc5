"""RFC 9162 Merkle tree: published CT vectors, pymerkle as an oracle, property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pm_verify_consistency

from tessera.audit import merkle as m

# Certificate Transparency's published test tree (RFC 6962 reference tests,
# google/certificate-transparency python/ct/crypto/merkle_test.py).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (5, 8, [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
]  # fmt: skip
CT_CONSISTENCY = [
    (1, 8, [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]),
    (6, 8, [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]),
    (2, 5, [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]),
]  # fmt: skip

CT_HASHES = [m.leaf_hash(e) for e in CT_LEAVES]


def test_ct_roots() -> None:
    for n, want in enumerate(CT_ROOTS):
        assert m.root_of(CT_HASHES[:n]).hex() == want


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = m.inclusion_proof(CT_HASHES[:size], index)
    assert [p.hex() for p in proof] == path
    m.verify_inclusion(index, size, CT_HASHES[index], proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_ct_consistency_vectors(first: int, second: int, path: list[str]) -> None:
    proof = m.consistency_proof(CT_HASHES[:second], first)
    assert [p.hex() for p in proof] == path
    m.verify_consistency(
        first, second, bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second]), proof
    )


def _pymerkle(entries: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256")  # security on: 0x00 / 0x01 prefixes
    for e in entries:
        tree.append_entry(e)
    return tree


entries_st = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=60, deadline=None)
@given(entries_st)
def test_roots_and_inclusion_match_pymerkle(entries: list[bytes]) -> None:
    tree = _pymerkle(entries)
    hashes = [m.leaf_hash(e) for e in entries]
    frontier = m.Frontier()
    for n in range(1, len(entries) + 1):
        frontier.append(hashes[n - 1])
        assert frontier.root() == tree.get_root(n) == m.root_of(hashes[:n])
    n = len(entries)
    for i in range(n):
        ours = m.inclusion_proof(hashes, i)
        # pymerkle's path starts with the leaf itself, then the RFC siblings.
        assert tree.prove_inclusion(i + 1, n).path == [hashes[i], *ours]


@settings(max_examples=60, deadline=None)
@given(entries_st, st.data())
def test_consistency_proofs_verify_and_agree_with_pymerkle(
    entries: list[bytes], data: st.DataObject
) -> None:
    tree = _pymerkle(entries)
    hashes = [m.leaf_hash(e) for e in entries]
    n = len(entries)
    first = data.draw(st.integers(1, n))
    proof = m.consistency_proof(hashes, first)
    first_root, second_root = m.root_of(hashes[:first]), m.root_of(hashes)
    m.verify_consistency(first, n, first_root, second_root, proof)
    # The oracle proves the same two states consistent with its own proof format.
    pm_verify_consistency(first_root, second_root, tree.prove_consistency(first, n))


@settings(max_examples=80, deadline=None)
@given(entries_st, st.data())
def test_tampered_inclusion_proofs_fail(entries: list[bytes], data: st.DataObject) -> None:
    hashes = [m.leaf_hash(e) for e in entries]
    n = len(hashes)
    i = data.draw(st.integers(0, n - 1))
    root = m.root_of(hashes)
    proof = m.inclusion_proof(hashes, i)
    other_leaf = m.leaf_hash(entries[i] + b"x")
    with pytest.raises(m.ProofError):
        m.verify_inclusion(i, n, other_leaf, proof, root)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        with pytest.raises(m.ProofError):
            m.verify_inclusion(i, n, hashes[i], bad, root)
        with pytest.raises(m.ProofError):
            m.verify_inclusion(i, n, hashes[i], proof[:-1], root)
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        if hashes[j] != hashes[i]:
            with pytest.raises(m.ProofError):
                m.verify_inclusion(j, n, hashes[i], proof, root)


@settings(max_examples=80, deadline=None)
@given(entries_st, st.data())
def test_rewritten_history_fails_consistency(entries: list[bytes], data: st.DataObject) -> None:
    n = len(entries)
    if n < 2:
        return
    first = data.draw(st.integers(1, n - 1))
    hashes = [m.leaf_hash(e) for e in entries]
    # Rewrite one entry of the prefix: the new tree no longer extends the old one.
    k = data.draw(st.integers(0, first - 1))
    forged = list(hashes)
    forged[k] = m.leaf_hash(entries[k] + b"forged")
    proof = m.consistency_proof(forged, first)
    with pytest.raises(m.ProofError):
        m.verify_consistency(first, n, m.root_of(hashes[:first]), m.root_of(forged), proof)


def test_frontier_round_trips_its_state() -> None:
    f = m.Frontier()
    for i in range(11):
        f.append(m.leaf_hash(bytes([i])))
    g = m.Frontier(f.size, f.state())
    g.append(m.leaf_hash(b"next"))
    f.append(m.leaf_hash(b"next"))
    assert f.root() == g.root()
    with pytest.raises(m.InvalidInput):
        m.Frontier(5, f.state())


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(m.InvalidInput):
        m.inclusion_proof([], 0)
    with pytest.raises(m.InvalidInput):
        m.consistency_proof(CT_HASHES, 0)
    with pytest.raises(m.ProofError):
        m.verify_inclusion(8, 8, CT_HASHES[0], [], m.EMPTY_ROOT)
