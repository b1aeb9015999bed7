"""transparency.js in a real Chromium: honest proofs pass, and each single tamper fails the check it should.

The vectors come from the project's own code (domain.merkle, services.audit.signing), so the browser and
the server must agree byte for byte on hashing, checkpoint bodies, signed notes and verifier keys.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from domain.merkle import leaf_hash, node_hash, verify_inclusion
from services.audit.signing import SIGNATURE_DASH, key_id
from tests.browser.tlog_vectors import ORIGIN, Log, b64, flip, new_key
from tests.browser.transparency_page import Verifier, failed, transparency_site

ALL_CHECKS = ["verifier-key", "note", "key-id", "signature", "tree-size", "leaf-index", "inclusion"]
HONEST = [(0, 1), (0, 2), (1, 2), (0, 3), (2, 3), (0, 7), (3, 7), (6, 7), (0, 8), (7, 8), (4, 5), (9, 13), (12, 13)]
HONEST += [(63, 64), (64, 65), (0, 100), (37, 100), (99, 100)]
TAMPERED_AT = [(5, 13), (0, 64), (99, 100)]
ROOT_DIFFERS = "root computed from the audit path differs from the checkpoint's root"

Vector = dict[str, Any]


@pytest.fixture(scope="module")
def log() -> Log:
    return Log(size=100)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with transparency_site(tmp_path_factory.mktemp("transparency")) as url:
        yield url


@pytest.fixture
def verifier(page: Page, site: str) -> Verifier:
    return Verifier(page, site)


def _python_includes(vector: Vector) -> bool:
    """The project's own verdict on the vector's proof, against the root of the vector's note."""
    root = base64.b64decode(vector["checkpointNote"].split("\n")[2])
    path = [base64.b64decode(h) for h in vector["auditPath"]]
    leaf = leaf_hash(base64.b64decode(vector["eventBytes"]))
    return verify_inclusion(leaf, vector["leafIndex"], vector["treeSize"], path, root)


def test_hashes_and_key_ids_match_the_python_side(verifier: Verifier) -> None:
    data, left, right = "Sở Tài chính".encode(), os.urandom(32), os.urandom(32)
    public = new_key().verifier.public_key
    arguments = {"data": b64(data), "left": b64(left), "right": b64(right), "name": ORIGIN, "key": b64(public)}
    got = verifier.hashes(arguments)
    assert got == {
        "leaf": b64(leaf_hash(data)),
        "node": b64(node_hash(left, right)),
        "keyId": key_id(ORIGIN, public).hex(),
    }


@pytest.mark.parametrize(("index", "size"), HONEST)
def test_an_honest_proof_verifies(verifier: Verifier, log: Log, index: int, size: int) -> None:
    vector = log.vector(index, size)
    assert _python_includes(vector)
    result = verifier.verify_event(vector)
    assert failed(result) == {}
    assert result["ok"] is True
    assert [c["name"] for c in result["checks"]] == ALL_CHECKS


def _other_key_note(log: Log, v: Vector) -> None:
    v["checkpointNote"] = log.signed(v["treeSize"], new_key()).note()


def _spliced_signature(log: Log, v: Vector) -> None:
    """Another key's signature under the genuine key's name and id."""
    forged = log.signed(v["treeSize"], new_key())
    body, _, _ = v["checkpointNote"].partition(f"\n{SIGNATURE_DASH} ")
    v["checkpointNote"] = f"{body}\n{SIGNATURE_DASH} {ORIGIN} {b64(log.key.verifier.key_id + forged.signature)}\n"


def _altered_body(log: Log, v: Vector) -> None:
    lines = v["checkpointNote"].split("\n")
    position = int(lines[4].removeprefix("last-position "))
    lines[4] = f"last-position {position + 1}"  # still canonical, so only the signature can catch it
    v["checkpointNote"] = "\n".join(lines)


def _path_node(log: Log, v: Vector) -> None:
    middle = len(v["auditPath"]) // 2
    v["auditPath"][middle] = b64(flip(base64.b64decode(v["auditPath"][middle]), 7))


# tamper name -> (change, {failing check: words its detail must hold})
TAMPERS: dict[str, tuple[Callable[[Log, Vector], None], dict[str, str]]] = {
    "event-byte": (
        lambda log, v: v.update(eventBytes=b64(flip(base64.b64decode(v["eventBytes"]), 10))),
        {"inclusion": ROOT_DIFFERS},
    ),
    "path-node-byte": (_path_node, {"inclusion": ROOT_DIFFERS}),
    "path-too-short": (lambda log, v: v["auditPath"].pop(), {"inclusion": "too few"}),
    "path-too-long": (lambda log, v: v["auditPath"].append(b64(os.urandom(32))), {"inclusion": "too many"}),
    "wrong-index": (lambda log, v: v.update(leafIndex=(v["leafIndex"] + 1) % v["treeSize"]), {"inclusion": ""}),
    "index-outside": (
        lambda log, v: v.update(leafIndex=v["treeSize"]),
        {"leaf-index": "is not in a tree of size", "inclusion": "not checked"},
    ),
    "altered-note-body": (_altered_body, {"signature": "signature does not verify with key"}),
    "other-key-signature": (
        _other_key_note,
        {"key-id": "key id in the note", "signature": "signature does not verify with key"},
    ),
    "spliced-signature": (_spliced_signature, {"signature": "signature does not verify with key"}),
    "wrong-verifier-key": (
        lambda log, v: v.update(verifierKey=new_key().verifier.vkey()),
        {"key-id": "differs from the verifier key", "signature": "signature does not verify with key"},
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize(("index", "size"), TAMPERED_AT)
def test_each_tamper_fails_the_check_it_should(
    verifier: Verifier, log: Log, tamper: str, index: int, size: int
) -> None:
    change, expected = TAMPERS[tamper]
    vector = log.vector(index, size)
    change(log, vector)
    result = verifier.verify_event(vector)
    assert result["ok"] is False
    assert set(failed(result)) == set(expected), failed(result)
    for name, words in expected.items():
        assert words in failed(result)[name]


@pytest.mark.parametrize(("index", "size"), TAMPERED_AT)
def test_a_wrong_tree_size_names_both_sizes(verifier: Verifier, log: Log, index: int, size: int) -> None:
    vector = log.vector(index, size)
    vector["treeSize"] = size + 1
    result = verifier.verify_event(vector)
    assert result["ok"] is False
    assert failed(result)["tree-size"] == f"checkpoint is for tree size {size}, proof for {size + 1}"
    # The path alone may or may not fit the other size; the JS must then agree with the Python verifier.
    inclusion = next(c for c in result["checks"] if c["name"] == "inclusion")
    assert inclusion["ok"] is _python_includes(vector)


def test_the_key_id_is_checked_against_the_verifier_keys_own_key(verifier: Verifier, log: Log) -> None:
    vector = log.vector(3, 7)
    name, key_hex, raw = vector["verifierKey"].split("+", 2)
    vector["verifierKey"] = f"{name}+{flip(bytes.fromhex(key_hex), 0).hex()}+{raw}"
    problems = failed(verifier.verify_event(vector))
    assert set(problems) == {"verifier-key", "key-id", "signature"}
    assert "is not that of its key" in problems["verifier-key"]


def test_a_verifier_key_with_plus_and_slash_in_its_base64_parses(verifier: Verifier, log: Log) -> None:
    key = new_key()
    while not {"+", "/"} <= set(key.verifier.vkey().split("+", 2)[2]):
        key = new_key()
    signed = Log(size=5, key=key)
    result = verifier.verify_event(signed.vector(2, 5))
    assert failed(result) == {}


@pytest.mark.parametrize(
    ("line", "text"),
    [(1, "013"), (2, "not base64!"), (3, "time 2026-02-30T08:15:02.123456Z"), (3, "time 2026-11-22T08:15:02Z")],
)
def test_a_non_canonical_checkpoint_body_is_refused(verifier: Verifier, log: Log, line: int, text: str) -> None:
    vector = log.vector(5, 13)
    lines = vector["checkpointNote"].split("\n")
    lines[line] = text
    vector["checkpointNote"] = "\n".join(lines)
    problems = failed(verifier.verify_event(vector))
    assert "checkpoint note is malformed" in problems["note"]
    assert {"key-id", "signature", "tree-size", "inclusion"} <= set(problems)


def test_a_checkpoint_verifies_alone(verifier: Verifier, log: Log) -> None:
    note, vkey = log.signed(42).note(), log.key.verifier.vkey()
    assert verifier.verify_checkpoint(note, vkey)["ok"] is True
    assert set(failed(verifier.verify_checkpoint(note, new_key().verifier.vkey()))) == {"key-id", "signature"}


def test_an_api_inclusion_answer_verifies(verifier: Verifier, log: Log) -> None:
    response = log.inclusion_response(9, 13)
    result = verifier.verify_inclusion_response(response, log.key.verifier.vkey())
    assert failed(result) == {}
    assert {c["name"] for c in result["checks"]} == {*ALL_CHECKS, "leaf-hash", "checkpoint-fields", "event-json"}


def _event_shown(response: dict[str, Any]) -> None:
    response["event"]["value"] = "0"


def _canonical(response: dict[str, Any]) -> None:
    response["canonical"] = b64(flip(base64.b64decode(response["canonical"]), 30))


def _checkpoint_field(response: dict[str, Any]) -> None:
    response["checkpoint"]["tree_size"] += 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_event_shown, {"event-json": "the event shown differs from the bytes that were proved"}),
        (_canonical, {"leaf-hash": "leaf hash does not match", "inclusion": ROOT_DIFFERS, "event-json": "differs"}),
        (_checkpoint_field, {"checkpoint-fields": "checkpoint fields disagree with its signed note"}),
    ],
    ids=["event-shown", "canonical-byte", "checkpoint-field"],
)
def test_a_tampered_api_answer_fails(
    verifier: Verifier, log: Log, change: Callable[[dict[str, Any]], None], expected: dict[str, str]
) -> None:
    response = log.inclusion_response(9, 13)
    change(response)
    result = verifier.verify_inclusion_response(response, log.key.verifier.vkey())
    assert result["ok"] is False
    assert set(failed(result)) == set(expected), failed(result)
    for name, words in expected.items():
        assert words in failed(result)[name]


def test_the_auditors_own_copy_of_the_event_is_what_is_proved(verifier: Verifier, log: Log) -> None:
    response = log.inclusion_response(9, 13)
    own = b64(log.events[10])  # the auditor holds another event than the one the server proves
    problems = failed(verifier.verify_inclusion_response(response, log.key.verifier.vkey(), own))
    assert set(problems) == {"leaf-hash", "inclusion", "event-json"}
