"""Known-answer tests: the code against tests/vectors/*.json, and docs/protocol.md against both.

The vectors are computed by scripts/make_vectors.py from the primitives and the written spec, not
by the functions tested here, so a pass means code, spec and document agree byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import nacl.bindings as sodium
import nacl.public
import nacl.signing
import pytest

from keys import bundle, codename, envelope, keyfiles, passbox, payload, records, signing
from keys.documents import FollowupDocument, ReplyDocument, ReportDocument, StatusDocument
from keys.encoding import canonical_json
from keys.errors import CodenameError

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
DOC = ROOT / "docs" / "protocol.md"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_vectors", ROOT / "scripts" / "make_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_vectors", module)
    spec.loader.exec_module(module)
    return module


make_vectors = _load_script()


def vector(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def identity(secret_hex: str) -> nacl.public.PrivateKey:
    return nacl.public.PrivateKey(bytes.fromhex(secret_hex))


# --- key files ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", vector("keyfiles")["public_keys"], ids=lambda e: e["line"][:24])
def test_public_key_vectors(entry: dict[str, Any]) -> None:
    secret = bytes.fromhex(entry["secret_hex"])
    if entry["kind"] == "recipient":
        key = keyfiles.recipient_public_key(nacl.public.PrivateKey(secret))
    else:
        key = keyfiles.verify_public_key(nacl.signing.SigningKey(secret))
    assert key.raw.hex() == entry["public_hex"]
    assert key.to_line() == entry["line"]
    assert key.fingerprint == entry["fingerprint"]
    assert keyfiles.parse_public_key(entry["line"], entry["kind"]) == key
    assert keyfiles.public_line_for_secret(entry["secret_type"], secret) == entry["line"]


def test_secret_key_file_vectors(tmp_path: Path) -> None:
    protected, plain = vector("keyfiles")["secret_key_files"]
    passphrase = protected["passphrase"].encode()
    secret = keyfiles.decode_secret_key(protected["file"], protected["type"], passphrase)
    assert secret.hex() == protected["secret_hex"]
    document = json.loads(protected["file"])
    kdf = document["kdf"]
    params = keyfiles.KdfParams(kdf["time_cost"], kdf["memory_cost_kib"], kdf["parallelism"])
    assert params == keyfiles.DEFAULT_KDF
    salt = bytes.fromhex("05" * 16)
    assert (
        keyfiles.derive_passphrase_key(passphrase, salt, params).hex() == protected["box_key_hex"]
    )
    header = {k: document[k] for k in ("format", "version", "type", "public", "kdf")}
    assert canonical_json(header).decode() == protected["associated_data"]
    path = tmp_path / "vector.key"
    path.write_text(protected["file"])
    assert (
        bytes(keyfiles.read_recipient_identity(path, passphrase)).hex() == protected["secret_hex"]
    )
    assert (
        keyfiles.decode_secret_key(plain["file"], plain["type"], None).hex() == plain["secret_hex"]
    )
    # The code writes the same document, field for field, apart from its own random salt/nonce.
    written = json.loads(
        keyfiles.encode_secret_key(plain["type"], bytes.fromhex(plain["secret_hex"]), None)
    )
    assert written == json.loads(plain["file"])


def test_passbox_vector() -> None:
    box = vector("keyfiles")["passbox"]
    opened = passbox.open_box(box["document"].encode(), box["passphrase"].encode(), box["purpose"])
    assert opened.hex() == box["secret_hex"]
    document = json.loads(box["document"])
    header = {k: document[k] for k in ("format", "version", "purpose", "kdf")}
    assert canonical_json(header).decode() == box["associated_data"]


# --- envelope and payload -------------------------------------------------------------------


def test_envelope_key_schedule() -> None:
    schedule = vector("envelope")["key_schedule"]
    file_key = bytes.fromhex(schedule["file_key_hex"])
    assert envelope._subkey(file_key, b"header-mac").hex() == schedule["mac_key_hex"]
    assert envelope._subkey(file_key, b"payload").hex() == schedule["payload_key_hex"]


@pytest.mark.parametrize(
    "row", vector("envelope")["lengths"], ids=lambda r: f"{r['plaintext']}x{r['recipients']}"
)
def test_envelope_length_vectors(row: dict[str, int]) -> None:
    assert envelope.ciphertext_length(row["plaintext"], row["recipients"]) == row["envelope"]


def _check_known_envelope(case: dict[str, Any]) -> bytes:
    data = bytes.fromhex(case["envelope_hex"])
    assert len(data) == case["length"]
    assert hashlib.sha256(data).hexdigest() == case["sha256"]
    count = len(case["recipients"])
    assert envelope.ciphertext_length(case["plaintext_length"], count) == case["length"]
    parsed_count, header, mac, ss_header = envelope.read_header(io.BytesIO(data))
    assert parsed_count == count
    assert mac.hex() == case["header_mac_hex"]
    assert ss_header.hex() == case["secretstream_header_hex"]
    file_key = bytes.fromhex(case["file_key_hex"])
    assert envelope._header_mac(file_key, header).hex() == case["header_mac_hex"]
    assert envelope._subkey(file_key, b"header-mac").hex() == case["mac_key_hex"]
    assert envelope._subkey(file_key, b"payload").hex() == case["payload_key_hex"]
    plaintext = b""
    for secret_hex in case["recipients"]:
        key = identity(secret_hex)
        assert envelope._open_file_key(header[10:], count, [key]) == file_key
        plaintext = envelope.decrypt_bytes(data, [key])
        assert len(plaintext) == case["plaintext_length"]
        assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
        streamed = io.BytesIO()
        assert envelope.decrypt(io.BytesIO(data), streamed, [key]) == case["plaintext_length"]
        assert streamed.getvalue() == plaintext
    return plaintext


@pytest.mark.parametrize("case", vector("envelope_cases")["cases"], ids=lambda c: c["name"])
def test_known_envelopes(case: dict[str, Any]) -> None:
    plaintext = _check_known_envelope(case)
    assert plaintext == make_vectors.pattern(case["plaintext_length"])


def test_payload_vectors() -> None:
    vectors = vector("payload")
    for block in vectors["meta_blocks"]:
        assert payload._meta_block(block["meta"]).hex() == block["block_hex"]
    known = vectors["envelope"]
    plaintext = _check_known_envelope(known)
    meta, content = payload.open_bytes(
        bytes.fromhex(known["envelope_hex"]), [identity(known["recipients"][0])]
    )
    assert meta == known["meta"] == {"kind": "report"}
    assert content.decode() == known["content"] == canonical_json(known["report"]).decode()
    assert plaintext == payload._meta_block(meta) + content
    report = json.loads(content)
    assert set(report) == {"v", "category", "relation", "what", "who", "where", "when", "how",
                           "message", "pseudonym", "contact", "language"}  # fmt: skip
    assert report["category"] in records.CATEGORIES and report["relation"] in records.RELATIONS


# --- signatures, codenames, register numbers, bundles ----------------------------------------


def test_signature_vector() -> None:
    sig = vector("signing")
    key = nacl.signing.SigningKey(bytes.fromhex(sig["seed_hex"]))
    assert canonical_json(sig["manifest"]).decode() == sig["canonical"]
    assert signing.sign_manifest(sig["manifest"], key).hex() == sig["signature_hex"]
    assert signing._CONTEXT.hex() == sig["context_hex"]
    assert keyfiles.verify_public_key(key).to_line() == sig["verify_line"]
    signing.verify_manifest_bytes(
        sig["canonical"].encode(), bytes.fromhex(sig["signature_hex"]), key.verify_key
    )


def _check_source_key(result: codename.SourceSecrets, case: dict[str, Any]) -> None:
    assert result.lookup_id == case["lookup_id"]
    assert bytes(result.private_key).hex() == case["private_key_hex"]
    assert bytes(result.public_key).hex() == case["public_key_hex"]
    assert bytes(nacl.public.PrivateKey.from_seed(bytes.fromhex(case["key_seed_hex"]))) == bytes(
        result.private_key
    )
    assert keyfiles.recipient_public_key(result.public_key).to_line() == case["public_line"]


@pytest.mark.parametrize(
    "case", vector("codename")["derivations"], ids=lambda d: d["normalised"][:12]
)
def test_codename_derivation_vectors(case: dict[str, Any]) -> None:
    cn = vector("codename")
    assert codename.CodenameKdfParams(**cn["params"]) == codename.CodenameKdfParams()
    deriver = codename.CodenameDeriver(
        bytes.fromhex(cn["lookup_salt_hex"]), bytes.fromhex(cn["key_salt_hex"])
    )
    result = deriver.derive(case["codename"])
    assert codename.normalize(case["codename"]) == case["normalised"]
    _check_source_key(result, case)
    tag = codename.codename_tag(case["codename"], bytes.fromhex(cn["tag_key_hex"]))
    assert tag.hex() == case["tag_hex"]


@pytest.mark.parametrize(
    "case", vector("codename")["derivations_v1"], ids=lambda d: d["normalised"][:12]
)
def test_codename_scheme_1_derivation_vectors(case: dict[str, Any]) -> None:
    cn = vector("codename")
    assert codename.CodenameKdfParams(**cn["params_v1"]) == codename.SCHEME_1_PARAMS
    deriver = codename.CodenameDeriver(
        bytes.fromhex(cn["lookup_salt_hex"]), bytes.fromhex(cn["key_salt_hex"]), scheme=1
    )
    _check_source_key(deriver.derive(case["codename"]), case)


def test_codename_normalisation_and_word_count_vectors() -> None:
    cn = vector("codename")
    for case in cn["normalisation"]:
        assert codename.normalize(case["input"]) == case["normalised"]
    for text in cn["refused"]:
        with pytest.raises(CodenameError):
            codename.normalize(text)
    for row in cn["words_needed"]:
        assert codename.words_needed(row["list_size"]) == row["words"]


@pytest.mark.parametrize("language", codename.LANGUAGES)
def test_word_list_vectors(language: codename.Language) -> None:
    lists = vector("codename")["wordlists"]
    try:
        words = codename.wordlist(language)
    except FileNotFoundError:
        pytest.skip(f"keys/wordlists/{language}.txt is not in this tree (yet)")
    assert language in lists, "a word list was added: run scripts/make_vectors.py"
    summary = lists[language]
    assert len(words) == summary["size"], "word list size changed: run scripts/make_vectors.py"
    assert codename.words_needed(len(words)) == summary["words"]
    assert round(codename.entropy_bits(language), 2) == summary["bits"]


def test_register_number_vectors() -> None:
    rc = vector("records")
    assert records.REGNO_ALPHABET == rc["alphabet"]
    for row in rc["regnos"]:
        assert records._check_char(row["body"]) == row["check"]
        assert records.normalize_regno(row["regno"]) == row["regno"]
        assert records.REGNO_PATTERN.match(row["regno"])
    for row in rc["normalisation"]:
        assert records.normalize_regno(row["input"]) == row["regno"]


def test_bundle_vector(tmp_path: Path) -> None:
    bv = vector("bundle")
    data = bytes.fromhex(bv["bundle_hex"])
    assert hashlib.sha256(data).hexdigest() == bv["sha256"]
    key = nacl.signing.SigningKey(bytes.fromhex(bv["signing_seed_hex"]))
    # The code writes exactly these bytes (Ed25519 and canonical JSON are deterministic).
    sources = []
    for item in bv["items"]:
        path = tmp_path / f"item-{item['name']}"
        path.write_bytes(bytes.fromhex(item["hex"]))
        sources.append(bundle.ItemSource(item["name"], path))
    out = tmp_path / "written.bundle"
    manifest = bundle.write_bundle(out, bv["direction"], bv["body"], sources, key)
    assert canonical_json(manifest).decode() == bv["manifest"]
    assert out.read_bytes() == data
    # And reads the committed bytes back, verified.
    committed = tmp_path / "committed.bundle"
    committed.write_bytes(data)
    staging = tmp_path / "staging"
    staging.mkdir()
    signer = keyfiles.verify_public_key(key)
    verified = bundle.read_bundle(committed, bv["direction"], lambda k: k == signer, staging)
    assert {n: p.read_bytes().hex() for n, p in verified.items.items()} == {
        i["name"]: i["hex"] for i in bv["items"]
    }
    assert sodium.crypto_sign_open(
        bytes.fromhex(bv["signature_hex"]) + signing._CONTEXT + bv["manifest"].encode(),
        bytes(key.verify_key),
    )
    records.check_server_body(verified.manifest, set(verified.items))


def test_cosigned_bundle_vector(tmp_path: Path) -> None:
    cv = vector("bundle_cosigned")
    data = bytes.fromhex(cv["bundle_hex"])
    assert hashlib.sha256(data).hexdigest() == cv["sha256"]
    first, second = (nacl.signing.SigningKey(bytes.fromhex(s)) for s in cv["signing_seeds_hex"])
    sources = []
    for item in cv["items"]:
        path = tmp_path / f"item-{item['name']}"
        path.write_bytes(bytes.fromhex(item["hex"]))
        sources.append(bundle.ItemSource(item["name"], path))
    out = tmp_path / "written.bundle"
    manifest = bundle.write_bundle(
        out, cv["direction"], cv["body"], sources, first, co_signer=second
    )
    assert canonical_json(manifest).decode() == cv["manifest"]
    assert out.read_bytes() == data
    committed = tmp_path / "committed.bundle"
    committed.write_bytes(data)
    staging = tmp_path / "staging"
    staging.mkdir()
    trusted = keyfiles.verify_public_key(first)
    verified = bundle.read_bundle(
        committed, cv["direction"], lambda k: k == trusted, staging, [trusted], max_signers=2
    )
    assert verified.signers == (trusted, keyfiles.verify_public_key(second))
    for key, signature in zip((first, second), cv["signatures_hex"], strict=True):
        assert sodium.crypto_sign_open(
            bytes.fromhex(signature) + signing._CONTEXT + cv["manifest"].encode(),
            bytes(key.verify_key),
        )
    records.check_console_body(verified.manifest, set(verified.items))


DOCUMENT_KINDS = {
    "report": ReportDocument,
    "followup": FollowupDocument,
    "reply": ReplyDocument,
    "status": StatusDocument,
}


@pytest.mark.parametrize("case", vector("documents")["documents"], ids=lambda c: c["kind"])
def test_content_document_vectors(case: dict[str, Any]) -> None:
    kind = DOCUMENT_KINDS[case["kind"]]
    document = kind(**case["members"])
    assert kind.KIND == case["kind"]
    # Written canonically, byte for byte; read back from those bytes...
    assert document.to_bytes().decode("ascii") == case["canonical"]
    assert hashlib.sha256(document.to_bytes()).hexdigest() == case["sha256"]
    assert kind.from_bytes(case["canonical"].encode("ascii")) == document
    # ...and from what the server wrote before it wrote canonical JSON.
    assert kind.from_bytes(bytes.fromhex(case["legacy_hex"])) == document


# --- the vector files and the document ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "keyfiles",
        "envelope",
        "signing",
        "codename",
        "records",
        "bundle",
        "bundle_cosigned",
        "documents",
    ],
)
def test_deterministic_vector_files_are_current(name: str) -> None:
    """Recomputing from the spec gives exactly the committed file (word lists: see above)."""
    fresh, committed = make_vectors.BUILDERS[name](None, False), vector(name)
    if name == "codename":
        fresh.pop("wordlists")
        committed.pop("wordlists")
    assert fresh == committed
    if name != "codename":
        assert make_vectors.dump(fresh) == (VECTORS / f"{name}.json").read_text()


def test_committed_envelopes_are_kept_as_they_are() -> None:
    for name in ("envelope_cases", "payload"):
        committed = vector(name)
        assert make_vectors.BUILDERS[name](committed, False) == committed


def test_document_contains_the_current_vectors() -> None:
    text = DOC.read_text()
    block = make_vectors.doc_block(text)
    assert block is not None, "docs/protocol.md lost its generated vectors block"
    assert block == make_vectors.render(make_vectors.load_vectors()), (
        "docs/protocol.md is stale: run scripts/make_vectors.py"
    )


def test_document_states_the_values_the_code_produces() -> None:
    """Independently of the renderer: the values computed here by the code appear in the doc."""
    text = DOC.read_text()
    for entry in vector("keyfiles")["public_keys"]:
        secret = bytes.fromhex(entry["secret_hex"])
        if entry["kind"] == "recipient":
            key = keyfiles.recipient_public_key(nacl.public.PrivateKey(secret))
        else:
            key = keyfiles.verify_public_key(nacl.signing.SigningKey(secret))
        assert key.to_line() in text and key.fingerprint in text
    sig = vector("signing")
    signature = signing.sign_manifest(
        sig["manifest"], nacl.signing.SigningKey(bytes.fromhex(sig["seed_hex"]))
    )
    assert signature.hex() in text
    assert canonical_json(sig["manifest"]).decode() in text
    for case in vector("envelope_cases")["cases"]:
        assert case["sha256"] in text and case["plaintext_sha256"] in text
        assert case["envelope_hex"][:96] in text
    for row in vector("envelope")["lengths"]:
        length = envelope.ciphertext_length(row["plaintext"], row["recipients"])
        assert f"| {row['plaintext']} | {row['recipients']} | {length} |" in text
    for row in vector("records")["regnos"]:
        assert f"`{records.normalize_regno(row['regno'])}`" in text
    for case in vector("codename")["derivations"]:
        assert case["lookup_id"] in text and case["public_line"] in text
    assert hashlib.sha256(bytes.fromhex(vector("bundle")["bundle_hex"])).hexdigest() in text
    cosigned = bytes.fromhex(vector("bundle_cosigned")["bundle_hex"])
    assert hashlib.sha256(cosigned).hexdigest() in text
    # The constants the prose states.
    kdf = codename.CodenameKdfParams()
    for fact in (
        f"`MAX_RECIPIENTS` = {envelope.MAX_RECIPIENTS}",
        "chunk_log2` = 16",
        "66 + 80·r + n + 17·max(1, ⌈n / 65536⌉)",
        "at most 4096 bytes",
        f"t={kdf.time_cost}, m={kdf.memory_cost_kib // 1024} MiB, p={kdf.parallelism}",
        f"longer than {codename.MAX_CODENAME_CHARS} code points",
        '"wbs-manifest-v1" || 0x00',
        f'alphabet = "{records.REGNO_ALPHABET}"',
    ):
        assert fact in text, fact
