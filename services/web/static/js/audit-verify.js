// The verification page (templates/audit/verify.html): fetch the event's inclusion proof and the latest
// signed checkpoint from this site, check them here with transparency.js, and show each check.
// The words of each check come from the page (rendered in the reader's language); this script only
// says which checks passed, with transparency.js's own technical detail beside them.
import { fromBase64, parseSignedNote, parseVerifierKey, toHex, verifyInclusionResponse } from "./transparency.js";

const form = document.getElementById("verify-form");
const section = document.getElementById("verify-result");

async function fetchJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || body === null) {
    const why = body?.detail ?? body?.title ?? "the answer is not JSON";
    throw new Error(`${new URL(url, location.href).pathname} answered ${response.status}: ${why}`);
  }
  return body;
}

function decodeEvent(canonical) {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(canonical)));
  } catch {
    return null;
  }
}

/** The checks this page adds to transparency.js's: the proof is for the latest checkpoint and for this event. */
function pageChecks(proof, latest) {
  const checks = [];
  const sameCheckpoint = proof.checkpoint?.note === latest.note;
  checks.push({
    name: "latest",
    ok: sameCheckpoint,
    detail: sameCheckpoint
      ? `the proof is for checkpoint ${latest.id} (tree size ${latest.tree_size}), the latest`
      : `the proof is for a checkpoint of tree size ${proof.checkpoint?.tree_size}, the latest is of tree size ${latest.tree_size}`,
  });
  const event = decodeEvent(proof.canonical);
  const position = form.dataset.position;
  const eventId = form.dataset.eventId;
  const same = event !== null && String(event.position) === position && event.event_id === eventId;
  checks.push({
    name: "event",
    ok: same,
    detail: same
      ? `position ${position}, event id ${eventId}`
      : `asked for position ${position} (event ${eventId}); the bytes proved are `
        + (event === null ? "not an event" : `position ${event.position}, event ${event.event_id}`),
  });
  return checks;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return toHex(digest).replace(/(.{4})(?!$)/g, "$1 ");
}

async function describeKey(vkey, source) {
  const texts = section.dataset;
  const sourceText = source === "published" ? texts.keyPublished : texts.keyOwn;
  let key;
  try {
    key = await parseVerifierKey(vkey);
  } catch {
    return `${sourceText}: ${texts.keyUnusable}`;
  }
  const fingerprint = await sha256Hex(key.publicKey);
  let comparison = "";
  const published = document.getElementById("published-vkey")?.textContent.trim();
  if (source === "own" && published) {
    let same = false;
    try {
      const theirs = await parseVerifierKey(published);
      same = theirs.name === key.name && toHex(theirs.publicKey) === toHex(key.publicKey);
    } catch {
      same = false;
    }
    comparison = ` ${same ? texts.keySame : texts.keyDiffers}`;
  }
  return `${sourceText}: ${key.name}+${toHex(key.keyId)}, SHA-256 ${fingerprint}${comparison}`;
}

function describeCheckpoint(latest) {
  try {
    const cp = parseSignedNote(latest.note).checkpoint;
    return section.dataset.checkpoint.replace("{size}", String(cp.treeSize)).replace("{time}", cp.time);
  } catch {
    return "";
  }
}

function show(checks) {
  const texts = section.dataset;
  const list = document.getElementById("checks");
  for (const item of list.querySelectorAll("li[data-check]")) item.hidden = true;
  const failed = [];
  for (const check of checks) {
    let item = list.querySelector(`li[data-check="${CSS.escape(check.name)}"]`);
    if (!item) { // a check the page has no words for: shown by its name
      item = list.querySelector("li[data-check]").cloneNode(true);
      item.dataset.check = check.name;
      item.querySelector(".check-label").textContent = check.name;
      item.querySelector(".check-passed").textContent = "";
      item.querySelector(".check-failed").textContent = "";
      list.append(item);
    }
    item.hidden = false;
    item.classList.toggle("check-ok", check.ok);
    item.classList.toggle("check-fail", !check.ok);
    item.querySelector(".check-status").textContent = check.ok ? `✓ ${texts.passedWord}` : `✗ ${texts.failedWord}`;
    item.querySelector(".check-passed").hidden = !check.ok;
    item.querySelector(".check-failed").hidden = check.ok;
    item.querySelector(".check-detail").textContent = `${texts.detailWord}: ${check.detail}`;
    if (!check.ok) failed.push(item.querySelector(".check-label").textContent);
  }
  const ok = checks.length > 0 && failed.length === 0;
  const verdict = document.getElementById("verdict");
  verdict.className = `verdict ${ok ? "verdict-ok" : "verdict-fail"}`;
  verdict.textContent = ok ? texts.passed : `${texts.failed} ${failed.join("; ")}.`;
}

async function run() {
  const button = document.getElementById("verify-button");
  button.disabled = true;
  section.hidden = false;
  const verdict = document.getElementById("verdict");
  verdict.className = "verdict";
  verdict.textContent = section.dataset.running;
  document.getElementById("checks").querySelectorAll("li").forEach((li) => { li.hidden = true; });
  const source = form.querySelector('input[name="key_source"]:checked')?.value ?? "own";
  const vkey = source === "published"
    ? document.getElementById("published-vkey")?.textContent.trim() ?? ""
    : document.getElementById("own-vkey").value.trim();
  const checks = [];
  let latest = null;
  let proof = null;
  try {
    latest = await fetchJson(form.dataset.latestUrl);
    const query = new URLSearchParams({ position: form.dataset.position, tree_size: String(latest.tree_size) });
    proof = await fetchJson(`${form.dataset.proofUrl}?${query}`);
    checks.push({ name: "fetch", ok: true, detail: `checkpoint of tree size ${latest.tree_size}, proof for leaf ${proof.leaf_index}` });
  } catch (error) {
    checks.push({ name: "fetch", ok: false, detail: error.message });
  }
  if (proof !== null) {
    const result = await verifyInclusionResponse(proof, vkey);
    checks.push(...result.checks, ...pageChecks(proof, latest));
  }
  show(checks);
  document.getElementById("key-used").textContent = await describeKey(vkey, source);
  document.getElementById("checkpoint-used").textContent = latest ? describeCheckpoint(latest) : "";
  button.disabled = false;
  section.focus();
}

if (form && section) {
  section.tabIndex = -1;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  document.getElementById("verify-button").disabled = false;
}
