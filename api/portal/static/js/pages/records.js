// Medical records: encrypted in the browser, uploaded with progress, followed live
// (the storing job's events, then the record until its batch is anchored), and each
// record's verification with its proof (content, Merkle path, ledger) and proof download.

import * as api from "../api.js";
import { decrypt, encrypt } from "../crypto.js";
import { follow } from "../jobs-watch.js";
import * as patients from "../patients.js";
import * as router from "../router.js";
import {
  announce, badge, bytes, empty, errorBox, field, h, loading, pageTitle, saveBlob, submitting, when,
} from "../ui.js";

const TYPES = {
  MEDICAL_REPORT: "Medical report",
  LAB_RESULT: "Lab result",
  PRESCRIPTION: "Prescription",
  IMAGING: "Imaging",
  DISCHARGE_SUMMARY: "Discharge summary",
  OTHER: "Other",
};
const ANCHOR_POLL_MS = 1500;

/** A record's stage as a person reads it: stored (on IPFS, awaiting its batch) or anchored. */
const stage = (record) => (record.anchorStatus === "anchored" ? "anchored" : "stored");

let watchers = new Set(); // polls of records waiting to be anchored; stopped on leaving

function stopWatching() {
  for (const stop of watchers) stop();
  watchers = new Set();
}
window.addEventListener("hashchange", stopWatching);

/** Re-reads the record until it is anchored, updating ``cell``; then ``onAnchored()``. */
function watchAnchor(recordId, cell, onAnchored = () => {}) {
  let timer = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  watchers.add(stop);
  const tick = async () => {
    try {
      const record = await api.get(`/records/${recordId}`);
      cell.replaceChildren(badge(stage(record)));
      if (record.anchorStatus === "anchored") {
        announce("A record is now anchored on the ledger.");
        onAnchored();
        return;
      }
    } catch {
      // try again on the next tick
    }
    if (!stopped) timer = setTimeout(tick, ANCHOR_POLL_MS);
  };
  tick();
}

function recordRow(record) {
  const statusCell = h("td", { "data-label": "Status", class: "record-status" }, badge(stage(record)));
  if (stage(record) !== "anchored") watchAnchor(record.id, statusCell);
  return h("tr", { dataset: { id: record.id } },
    h("td", { "data-label": "Type" }, TYPES[record.recordType] || record.recordType),
    h("td", { "data-label": "Description" }, record.description || "—"),
    h("td", { "data-label": "Size" }, bytes(record.sizeBytes)),
    h("td", { "data-label": "Uploaded" }, when(record.createdAt)),
    statusCell,
    h("td.actions", {}, h("a.button.secondary", { href: `#/records/${record.id}`, "aria-label": "Open record details" }, "Details")));
}

function uploadForm(patientId, onUploaded) {
  const progress = h("div.upload-status", { "aria-live": "polite" });
  const form = submitting(
    h("form.grid", {},
      field("Type", h("select", { name: "recordType" },
        Object.entries(TYPES).map(([value, label]) => h("option", { value }, label)))),
      field("Description", h("input", { name: "description", type: "text", maxlength: "500" })),
      field("File", h("input", { name: "file", type: "file", required: true })),
      field("Passphrase", h("input", { name: "passphrase", type: "password", required: true, minlength: "8", autocomplete: "new-password" }),
        "Encrypts the file in this browser. You need it to open the record later; we never see it."),
      h("button.primary", { type: "submit" }, "Encrypt and upload")),
    async (data) => {
      const file = data.get("file");
      if (file.size > 10 * 1024 * 1024) throw new Error(`The file is ${bytes(file.size)}; the limit is 10 MB.`);
      const bar = h("progress", { max: "100", value: "0", "aria-label": "Upload progress" });
      const label = h("span.progress-label", {}, "Encrypting…");
      progress.replaceChildren(bar, label);
      const sealed = await encrypt(file, data.get("passphrase"));
      const body = new FormData();
      body.append("patientId", patientId);
      body.append("recordType", data.get("recordType"));
      body.append("description", data.get("description") || "");
      body.append("file", sealed, "record.enc");
      const accepted = await api.upload("/records", body, (fraction) => {
        bar.value = Math.round(fraction * 100);
        label.textContent = `${bar.value}%`;
      });
      label.textContent = "Uploaded, storing…";
      form.reset();
      const job = await follow(accepted.jobId, (change) => {
        label.textContent = `Storing (${change.status})…`;
      });
      if (job?.status !== "succeeded") throw new Error(`The record could not be stored: ${job?.error?.message || job?.status}`);
      progress.replaceChildren(h("p.alert.ok", {}, "Stored. It is anchored on the ledger with the next batch."));
      onUploaded();
    },
  );
  return h("section.card", { "aria-labelledby": "record-upload-title" },
    h("h2", { id: "record-upload-title" }, "Upload a record"), form, progress);
}

async function allRecords(patientId) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ patientId, limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/records?${query}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

router.register({
  path: "/records",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Records"));
    const body = h("div", {}, loading());
    main.append(body);
    let people;
    try {
      people = await patients.reachable();
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    if (!people.length) {
      body.replaceChildren(empty("No connected patients yet.", "Patients appear here once a connection is active."));
      return;
    }
    const results = h("div.results");
    const list = h("section.card", { "aria-labelledby": "records-title" }, h("h2", { id: "records-title" }, "Records"), results);
    async function load() {
      stopWatching();
      results.replaceChildren(loading("Loading records…"));
      try {
        const items = await allRecords(patients.current());
        results.replaceChildren(items.length
          ? h("table.files", {},
            h("caption.visually-hidden", {}, "Records"),
            h("thead", {}, h("tr", {}, ["Type", "Description", "Size", "Uploaded", "Status"].map((c) => h("th", { scope: "col" }, c)),
              h("th", { scope: "col" }, h("span.visually-hidden", {}, "Actions")))),
            h("tbody", {}, items.map(recordRow)))
          : empty("No records yet.", "Upload one above: it is encrypted here, stored, then anchored on the ledger."));
      } catch (error) {
        results.replaceChildren(errorBox(error));
      }
    }
    const layout = () => body.replaceChildren(
      patients.picker(people, () => { layout(); load(); }) || "", uploadForm(patients.current(), load), list);
    layout();
    await load();
  },
});

function check(name, result) {
  return h("li", { class: `check check-${result.status}` },
    h("strong", {}, name), " ", badge(result.status), h("span.detail", {}, ` ${result.detail}`));
}

function proofSection(record) {
  const anchor = record.anchor;
  if (!anchor) return h("p", {}, "Not in an anchor batch yet: the proof appears once it is.");
  return h("dl.proof", {},
    h("dt", {}, "Content (CID)"), h("dd", {}, h("code", {}, record.cid)),
    h("dt", {}, "SHA-256"), h("dd", {}, h("code", {}, record.sha256)),
    h("dt", {}, "Merkle root"), h("dd", {}, h("code", {}, anchor.root)),
    h("dt", {}, "Leaf index"), h("dd", {}, String(anchor.leafIndex)),
    h("dt", {}, "Merkle path"), h("dd", {}, anchor.proof.length
      ? h("ol.path", {}, anchor.proof.map((step) => h("li", {}, `${step.side}: `, h("code", {}, step.hash))))
      : "the root is this record's own leaf"),
    h("dt", {}, "Ledger transaction"), h("dd", {}, h("code", {}, anchor.txHash)),
    h("dt", {}, "Ledger"), h("dd", {}, anchor.ledger ? String(anchor.ledger) : "not landed yet"),
    h("dt", {}, "Network"), h("dd", {}, anchor.network));
}

router.register({
  path: "/records/:id",
  signedIn: true,
  async render(main, { id }) {
    main.append(pageTitle("Record"), h("p", {}, h("a", { href: "#/records" }, "← All records")));
    const body = h("div", {}, loading());
    main.append(body);
    let record;
    try {
      record = await api.get(`/records/${id}`);
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const verification = h("div.verification", { "aria-live": "polite" });
    const passphrase = h("input", { type: "password", id: "open-passphrase", autocomplete: "off" });
    body.replaceChildren(
      h("section.card", {},
        h("h2", {}, TYPES[record.recordType] || record.recordType),
        h("dl.meta", {},
          h("dt", {}, "Description"), h("dd", {}, record.description || "—"),
          h("dt", {}, "Uploaded"), h("dd", {}, when(record.createdAt)),
          h("dt", {}, "Size"), h("dd", {}, bytes(record.sizeBytes)),
          h("dt", {}, "Status"), h("dd.record-status", {}, badge(stage(record))))),
      h("section.card", { "aria-labelledby": "proof-title" },
        h("h2", { id: "proof-title" }, "Proof"),
        proofSection(record),
        h("div.actions", {},
          h("button.primary", {
            type: "button",
            onclick: async () => {
              verification.replaceChildren(loading("Verifying…"));
              try {
                const result = await api.get(`/records/${id}/verify`);
                verification.replaceChildren(
                  h("p", { class: result.verified ? "alert ok" : "alert error" },
                    result.verified ? "Verified: the content, its proof and the ledger agree." : "Not verified."),
                  h("ul.checks", {}, check("Content", result.content), check("Proof", result.proof), check("Ledger", result.ledger)));
              } catch (error) {
                verification.replaceChildren(errorBox(error));
              }
            },
          }, "Verify"),
          h("button.secondary", {
            type: "button",
            disabled: !record.anchor,
            onclick: async () => {
              try {
                saveBlob(await api.download(`/records/${id}/proof`), `proof-${id}.json`);
              } catch (error) {
                announce(error.message, "error");
              }
            },
          }, "Download proof")),
        verification),
      h("section.card", { "aria-labelledby": "open-title" },
        h("h2", { id: "open-title" }, "Open the file"),
        h("div.field", {}, h("label", { for: "open-passphrase" }, "Passphrase"), passphrase),
        h("div.actions", {},
          h("button.primary", {
            type: "button",
            onclick: async () => {
              try {
                const blob = await api.download(`/records/${id}/content`);
                saveBlob(await decrypt(blob, passphrase.value), `record-${id}`);
              } catch (error) {
                announce(error.message, "error");
              }
            },
          }, "Decrypt and download"),
          h("button.secondary", {
            type: "button",
            onclick: async () => saveBlob(await api.download(`/records/${id}/content`), `record-${id}.enc`),
          }, "Download encrypted"))),
    );
    if (stage(record) !== "anchored") {
      // its proof and ledger transaction appear once anchored: show the page again then
      watchAnchor(id, body.querySelector(".record-status"), () => router.go(`/records/${id}`));
    }
  },
});
