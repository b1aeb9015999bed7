// In-browser verification of the transparency log: an auditor's browser checks that an event is in
// the log whose signed checkpoint it holds, trusting nothing the server computed. No dependencies:
// SHA-256 and Ed25519 come from WebCrypto, which browsers offer only in a secure context (HTTPS, localhost).
//
// The formats are those of domain/merkle.py and services/audit/signing.py (docs/AUDIT.md):
// - RFC 6962 / RFC 9162 tree: leaf hash = SHA-256(0x00 || leaf bytes), node hash = SHA-256(0x01 || left || right);
//   an inclusion proof is the audit path, leaf side first, checked as in RFC 9162 section 2.1.3.2.
// - the checkpoint body (the signed bytes, five lines, each ending in "\n"):
//   origin, tree size (decimal), root hash (base64), "time <UTC, microseconds>Z", "last-position <n>";
// - the C2SP signed note: body, an empty line, "— <key name> <base64(key id || Ed25519 signature)>" lines;
// - key id = SHA-256(key name || 0x0A || 0x01 || raw public key)[:4];
// - verifier key = "<name>+<key id hex>+<base64(0x01 || raw public key)>".
//
// Every verify function returns {ok, checks: [{name, ok, detail}]} and never throws: a failed check's
// detail says what failed, a check that could not run says why ("not checked: ...").

const ED25519 = 0x01;
const HASH_SIZE = 32;
const KEY_ID_SIZE = 4;
const SIGNATURE_SIZE = 64;
const SIGNATURE_DASH = "\u2014";
const MAX_COUNT = 1n << 64n; // tree sizes and indexes are uint64
const utf8 = new TextEncoder();

// ---- bytes -------------------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (with padding, no whitespace) to bytes. */
export function fromBase64(text) {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new Error(`not base64: ${JSON.stringify(String(text).slice(0, 40))}`);
  }
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function toBase64(bytes) {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new Error("WebCrypto is unavailable: open this page over HTTPS (or from localhost)");
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// ---- the Merkle tree (RFC 9162 section 2.1) ----------------------------------------------------

export async function leafHash(data) {
  return sha256(concat(Uint8Array.of(0x00), data));
}

export async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

/**
 * RFC 9162 section 2.1.3.2: the root that `path` gives for the leaf hash `leaf` at `index` of a tree of
 * `size` leaves (BigInts). Returns {root} or {error}.
 */
export async function rootFromInclusionPath(leaf, index, size, path) {
  if (index >= size) return { error: `leaf index ${index} is not in a tree of size ${size}` };
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) {
      return { error: `the audit path has ${path.length} hashes: too many for leaf ${index} of a tree of size ${size}` };
    }
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { // levels where this node is the right-most, with no sibling
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) {
    return { error: `the audit path has ${path.length} hashes: too few for leaf ${index} of a tree of size ${size}` };
  }
  return { root: r };
}

// ---- keys, checkpoints and signed notes --------------------------------------------------------

function checkName(name) {
  if (!name || /\s/.test(name) || name.includes("+")) {
    throw new Error(`a log origin / key name has no spaces and no '+': ${JSON.stringify(name)}`);
  }
  return name;
}

export async function computeKeyId(name, publicKey) {
  const digest = await sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, ED25519), publicKey));
  return digest.slice(0, KEY_ID_SIZE);
}

/** A verifier key `name+keyid+base64(0x01 || key)`; throws if malformed or if its key id is not its key's. */
export async function parseVerifierKey(text) {
  if (typeof text !== "string") throw new Error("a verifier key is a string name+keyid+base64");
  const vkey = text.trim();
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1); // the base64 part may hold "+" itself
  if (second < 0) throw new Error("a verifier key is name+keyid+base64");
  const name = checkName(vkey.slice(0, first));
  const raw = fromBase64(vkey.slice(second + 1));
  if (raw.length !== 1 + 32 || raw[0] !== ED25519) throw new Error("not an Ed25519 verifier key");
  const publicKey = raw.slice(1);
  const keyId = await computeKeyId(name, publicKey);
  const claimed = vkey.slice(first + 1, second).toLowerCase();
  if (toHex(keyId) !== claimed) {
    throw new Error(`the verifier key's id ${claimed} is not that of its key (${toHex(keyId)})`);
  }
  return { name, keyId, publicKey };
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

function isInstant(text) {
  const m = INSTANT.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  const t = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return t.getUTCFullYear() === year && t.getUTCMonth() === month - 1 && t.getUTCDate() === day &&
    t.getUTCHours() === hour && t.getUTCMinutes() === minute && t.getUTCSeconds() === second;
}

/** The checkpoint body (with its final newline), in its one canonical form; throws otherwise. */
export function parseCheckpointBody(body) {
  const lines = body.split("\n");
  if (lines.length !== 6 || lines[5] !== "") {
    throw new Error("a checkpoint body has five lines, each ending in a newline");
  }
  const [origin, size, root, timeLine, positionLine] = lines;
  if (!DECIMAL.test(size)) throw new Error(`tree size ${JSON.stringify(size)} is not a canonical decimal`);
  const rootHash = fromBase64(root);
  if (rootHash.length !== HASH_SIZE || toBase64(rootHash) !== root) {
    throw new Error(`root hash ${JSON.stringify(root)} is not 32 bytes in canonical base64`);
  }
  const time = timeLine.startsWith("time ") ? timeLine.slice(5) : "";
  if (!isInstant(time)) throw new Error(`malformed time line ${JSON.stringify(timeLine)}`);
  const position = positionLine.startsWith("last-position ") ? positionLine.slice(14) : "";
  if (!DECIMAL.test(position)) throw new Error(`malformed last-position line ${JSON.stringify(positionLine)}`);
  return { origin: checkName(origin), treeSize: BigInt(size), rootHash, time, lastPosition: BigInt(position) };
}

/** A signed note: {body (the signed text), checkpoint, signatures: [{name, keyId, signature}]}; throws if malformed. */
export function parseSignedNote(note) {
  if (typeof note !== "string") throw new Error("a signed note is text");
  const cut = note.indexOf("\n\n");
  if (cut < 0) throw new Error("a signed note has a body, an empty line and signature lines");
  const body = note.slice(0, cut + 1);
  const checkpoint = parseCheckpointBody(body);
  const signatures = [];
  for (const line of note.slice(cut + 2).split("\n")) {
    const [dash, name, encoded, ...rest] = line.split(" ");
    if (dash !== SIGNATURE_DASH || !name || rest.length || !BASE64.test(encoded ?? "")) continue;
    const raw = fromBase64(encoded);
    if (raw.length === KEY_ID_SIZE + SIGNATURE_SIZE) { // an Ed25519 signature; others are not ours to check
      signatures.push({ name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) });
    }
  }
  if (!signatures.length) throw new Error("no Ed25519 signature line in the note");
  return { body, checkpoint, signatures };
}

async function ed25519Verify(publicKey, signature, message) {
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// ---- checks ------------------------------------------------------------------------------------

class Checks {
  constructor() {
    this.list = [];
  }

  add(name, ok, detail) {
    this.list.push({ name, ok: Boolean(ok), detail });
    return ok;
  }

  skip(names, why) {
    for (const name of names) this.add(name, false, `not checked: ${why}`);
  }

  result(extra = {}) {
    return { ok: this.list.length > 0 && this.list.every((c) => c.ok), checks: this.list, ...extra };
  }
}

function toBytes(value, what) {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Uint8Array.from(value);
  }
  throw new Error(`${what} must be bytes (a Uint8Array or an ArrayBuffer)`);
}

function toHash(value, what) {
  const bytes = typeof value === "string" ? fromBase64(value) : toBytes(value, what);
  if (bytes.length !== HASH_SIZE) throw new Error(`${what} is ${bytes.length} bytes, not ${HASH_SIZE}`);
  return bytes;
}

function toCount(value, what) {
  let n;
  if (typeof value === "bigint") n = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && DECIMAL.test(value)) n = BigInt(value);
  if (n === undefined || n < 0n || n >= MAX_COUNT) throw new Error(`${what} must be a whole number in 0..2^64-1`);
  return n;
}

function vkeyText(verifierKey) {
  return typeof verifierKey === "string" ? verifierKey : verifierKey?.vkey;
}

/** Signature checks of a signed note against a verifier key; adds "verifier-key", "note", "key-id", "signature". */
async function checkNote(checks, checkpointNote, verifierKey) {
  let key = null;
  let note = null;
  try {
    key = await parseVerifierKey(vkeyText(verifierKey));
    checks.add("verifier-key", true, `${key.name}+${toHex(key.keyId)}`);
  } catch (error) {
    checks.add("verifier-key", false, `the verifier key is unusable: ${error.message}`);
  }
  try {
    note = parseSignedNote(checkpointNote);
    const cp = note.checkpoint;
    checks.add("note", true, `checkpoint of ${cp.origin}: tree size ${cp.treeSize}, root ${toBase64(cp.rootHash)}`);
  } catch (error) {
    checks.add("note", false, `the checkpoint note is malformed: ${error.message}`);
  }
  if (!key || !note) {
    checks.skip(["key-id", "signature"], key ? "the note is malformed" : "no usable verifier key");
    return note;
  }
  const sameName = note.signatures.filter((s) => s.name === key.name);
  const line = sameName.find((s) => equalBytes(s.keyId, key.keyId)) ?? sameName[0] ?? note.signatures[0];
  const keyHex = toHex(key.keyId);
  if (line.name !== key.name) {
    checks.add("key-id", false, `key name in the note (${line.name}) differs from the verifier key's (${key.name})`);
  } else if (!equalBytes(line.keyId, key.keyId)) {
    checks.add("key-id", false, `key id in the note (${toHex(line.keyId)}) differs from the verifier key (${keyHex})`);
  } else {
    checks.add("key-id", true, `the note names key ${keyHex} (${key.name})`);
  }
  let verified = false;
  try {
    verified = await ed25519Verify(key.publicKey, line.signature, utf8.encode(note.body));
    checks.add("signature", verified, verified
      ? `Ed25519 signature verifies with key ${keyHex} (${key.name})`
      : `signature does not verify with key ${keyHex} (${key.name})`);
  } catch (error) {
    checks.add("signature", false, `this browser could not verify an Ed25519 signature: ${error.message}`);
  }
  return note;
}

/** Is `checkpointNote` signed by `verifierKey` (a vkey string, or an object with .vkey as /audit/public-key lists)? */
export async function verifyCheckpoint(checkpointNote, verifierKey) {
  const checks = new Checks();
  try {
    const note = await checkNote(checks, checkpointNote, verifierKey);
    return checks.result({ checkpoint: note?.checkpoint ?? null });
  } catch (error) {
    checks.add("error", false, `verification stopped: ${error.message}`);
    return checks.result({ checkpoint: null });
  }
}

/**
 * Is the event (its canonical bytes) leaf `leafIndex` of the tree of `treeSize` leaves whose root the
 * checkpoint note, signed by `verifierKey`, commits to? `auditPath`: 32-byte hashes (bytes or base64),
 * leaf side first. `leafHash` (optional): the leaf hash the server claims, compared with the computed one.
 */
export async function verifyEvent({ eventBytes, leafIndex, treeSize, auditPath, checkpointNote, verifierKey, leafHash: claimed }) {
  const checks = new Checks();
  try {
    let input;
    try {
      if (!Array.isArray(auditPath)) throw new Error("auditPath must be an array of hashes");
      input = {
        event: toBytes(eventBytes, "eventBytes"),
        index: toCount(leafIndex, "leafIndex"),
        size: toCount(treeSize, "treeSize"),
        path: auditPath.map((h, i) => toHash(h, `auditPath[${i}]`)),
        claimed: claimed == null ? null : toHash(claimed, "leafHash"),
      };
    } catch (error) {
      checks.add("input", false, error.message);
      return checks.result();
    }
    const note = await checkNote(checks, checkpointNote, verifierKey);
    const { index, size } = input;
    if (note) {
      const cpSize = note.checkpoint.treeSize;
      checks.add("tree-size", cpSize === size, cpSize === size
        ? `the proof is for the checkpoint's tree size ${size}`
        : `checkpoint is for tree size ${cpSize}, proof for ${size}`);
    } else {
      checks.skip(["tree-size"], "the note is malformed");
    }
    const indexOk = checks.add("leaf-index", index < size, index < size
      ? `leaf ${index} of ${size}`
      : `leaf index ${index} is not in a tree of size ${size}`);
    const leaf = await leafHash(input.event);
    if (input.claimed) {
      checks.add("leaf-hash", equalBytes(leaf, input.claimed), equalBytes(leaf, input.claimed)
        ? `SHA-256(0x00 || event) = ${toBase64(leaf)}`
        : `leaf hash does not match: the event hashes to ${toBase64(leaf)}, the server says ${toBase64(input.claimed)}`);
    }
    if (!note || !indexOk) {
      checks.skip(["inclusion"], note ? "the leaf index is outside the tree" : "the note is malformed");
      return checks.result();
    }
    const { root, error } = await rootFromInclusionPath(leaf, index, size, input.path);
    const expected = note.checkpoint.rootHash;
    if (error) checks.add("inclusion", false, error);
    else if (!equalBytes(root, expected)) {
      checks.add("inclusion", false, `root computed from the audit path differs from the checkpoint's root: `
        + `${toBase64(root)}, not ${toBase64(expected)}`);
    } else checks.add("inclusion", true, `the audit path leads from the event to the checkpoint's root ${toBase64(root)}`);
    return checks.result();
  } catch (error) {
    checks.add("error", false, `verification stopped: ${error.message}`);
    return checks.result();
  }
}

function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

/**
 * verifyEvent on an answer of GET /audit/proofs/inclusion ({leaf_index, tree_size, leaf_hash, proof, event,
 * canonical, checkpoint: {note, tree_size, root_hash, ...}}). `eventBytes`: the auditor's own copy of the
 * event's canonical bytes, if any (else the answer's `canonical`). Adds "checkpoint-fields" (the checkpoint's
 * convenience members agree with its signed note) and "event-json" (the `event` shown is the bytes proved).
 */
export async function verifyInclusionResponse(response, verifierKey, { eventBytes } = {}) {
  let bytes = null;
  try {
    bytes = eventBytes === undefined ? fromBase64(response?.canonical) : toBytes(eventBytes, "eventBytes");
  } catch {
    bytes = null; // verifyEvent reports the missing or malformed event bytes
  }
  const checkpoint = response?.checkpoint ?? {};
  const result = await verifyEvent({
    eventBytes: bytes,
    leafIndex: response?.leaf_index,
    treeSize: response?.tree_size,
    auditPath: response?.proof,
    checkpointNote: checkpoint.note,
    verifierKey,
    leafHash: response?.leaf_hash ?? null,
  });
  const checks = result.checks;
  const add = (name, ok, detail) => checks.push({ name, ok, detail });
  try {
    const cp = parseSignedNote(checkpoint.note).checkpoint;
    const sizeOk = checkpoint.tree_size === undefined || String(checkpoint.tree_size) === String(cp.treeSize);
    const rootOk = checkpoint.root_hash === undefined || checkpoint.root_hash === toBase64(cp.rootHash);
    add("checkpoint-fields", sizeOk && rootOk, sizeOk && rootOk
      ? "the checkpoint's fields agree with its signed note"
      : `checkpoint fields disagree with its signed note: tree_size ${checkpoint.tree_size}, root_hash `
        + `${checkpoint.root_hash}; the note says ${cp.treeSize}, ${toBase64(cp.rootHash)}`);
  } catch {
    add("checkpoint-fields", false, "not checked: the note is malformed");
  }
  if (response?.event != null && bytes !== null) {
    let parsed;
    try {
      parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      parsed = undefined; // not JSON: it cannot be the event shown
    }
    add("event-json", sameJson(parsed, response.event), sameJson(parsed, response.event)
      ? "the event shown is the one proved"
      : "the event shown differs from the bytes that were proved");
  }
  return { ok: checks.every((c) => c.ok), checks };
}
