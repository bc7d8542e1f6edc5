"""C2SP signed-note and tlog-checkpoint: the Go sumdb/note published example."""

from __future__ import annotations

import base64

import pytest

from tessera.audit.checkpoint import Checkpoint
from tessera.audit.note import (
    NoteError,
    Signer,
    Verifier,
    key_id,
    open_note,
    parse_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note: the package documentation's example (also its tests).
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_example_keys_parse_and_ids_match() -> None:
    verifier = Verifier.parse(GO_VERIFIER)
    assert verifier.id == 0xC74F20A3
    assert key_id("PeterNeumann", verifier.public_bytes) == 0xC74F20A3
    signer = Signer.parse(GO_SIGNER)
    assert signer.verifier.text() == GO_VERIFIER
    assert signer.text() == GO_SIGNER


def test_go_example_signs_byte_for_byte() -> None:
    # Ed25519 is deterministic: our note must equal Go's published one exactly.
    assert sign_note(GO_TEXT, Signer.parse(GO_SIGNER)) == GO_NOTE


def test_go_example_opens() -> None:
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == GO_TEXT


def test_altered_text_is_rejected() -> None:
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), Verifier.parse(GO_VERIFIER))


def test_unknown_keys_are_ignored_but_one_known_is_required() -> None:
    other = Signer.generate("example.org/other")
    both = sign_note(GO_TEXT, Signer.parse(GO_SIGNER), other)
    assert open_note(both, Verifier.parse(GO_VERIFIER)) == GO_TEXT
    assert open_note(both, other.verifier) == GO_TEXT
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(GO_NOTE, other.verifier)
    # Same name, different key: its id differs, so it is an unknown key, not a pass.
    impostor = Signer.generate("PeterNeumann")
    with pytest.raises(NoteError):
        open_note(sign_note(GO_TEXT, impostor), Verifier.parse(GO_VERIFIER))


def test_forged_signature_by_known_key_rejects_the_note() -> None:
    text, sigs = parse_note(GO_NOTE)
    sig = sigs[0]
    blob = sig.id.to_bytes(4, "big") + bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    forged = text + "\n\u2014 PeterNeumann " + base64.b64encode(blob).decode() + "\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, Verifier.parse(GO_VERIFIER))


@pytest.mark.parametrize(
    "bad",
    [
        GO_VERIFIER.replace("c74f20a3", "c74f20a4"),  # id does not match
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+!!!",
    ],
)
def test_malformed_verifier_keys(bad: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(bad)


@pytest.mark.parametrize(
    "bad",
    [
        GO_TEXT,  # no signatures
        GO_NOTE.rstrip("\n"),
        GO_NOTE.replace("\u2014 ", "- "),
        GO_NOTE.replace("\n\n", "\n\x07\n"),
    ],
)
def test_malformed_notes(bad: str) -> None:
    with pytest.raises(NoteError):
        open_note(bad, Verifier.parse(GO_VERIFIER))


def test_checkpoint_text_form_and_round_trip() -> None:
    root = bytes(range(32))
    cp = Checkpoint("example.org/log", 42, root)
    assert cp.text() == f"example.org/log\n42\n{base64.b64encode(root).decode()}\n"
    signer = Signer.generate("example.org/log")
    note = cp.sign(signer)
    assert Checkpoint.open(note, signer.verifier) == cp
    tampered = note.replace("\n42\n", "\n41\n")
    with pytest.raises(NoteError):
        Checkpoint.open(tampered, signer.verifier)


@pytest.mark.parametrize(
    "text",
    ["o\n-1\nAAAA\n", "o\n01\n" + "A" * 44 + "\n", "o\n1\nAAAA\n", "\n1\n" + "A" * 43 + "=\n"],
)
def test_bad_checkpoint_bodies(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse_text(text)


def test_a_signature_in_another_base64_spelling_is_refused() -> None:
    """The low bits of the last base64 character before '=' are unused: 'M' and 'N'
    there decode to the same bytes. Only the canonical spelling is the signature (a
    flipped bit of a signed bundle is refused wherever it falls)."""
    other = GO_NOTE.replace("nAM=\n", "nAN=\n")
    assert other != GO_NOTE
    assert base64.b64decode(other.split(" ")[-1]) == base64.b64decode(GO_NOTE.split(" ")[-1])
    with pytest.raises(NoteError, match="not canonical base64"):
        open_note(other, Verifier.parse(GO_VERIFIER))
