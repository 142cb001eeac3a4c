// Documents: PDFs uploaded by drag-and-drop or the picker with a real progress bar, the
// list with search and sort, download, and delete after a confirmation.

import * as api from "../api.js";
import { follow } from "../jobs-watch.js";
import * as patients from "../patients.js";
import * as router from "../router.js";
import * as session from "../session.js";
import {
  announce, bytes, confirmDialog, empty, errorBox, h, loading, pageTitle, saveBlob, when,
} from "../ui.js";

const MAX_BYTES = 10 * 1024 * 1024;

/** Why a file cannot be a document, before a byte is sent; null when it may be. */
export function refusal(file) {
  const isPdf = file.type === "application/pdf" || /\.pdf$/i.test(file.name);
  if (!isPdf) return `“${file.name}” is not a PDF. Only PDF documents can be uploaded.`;
  if (file.size > MAX_BYTES) return `“${file.name}” is ${bytes(file.size)}; the limit is 10 MB.`;
  if (file.size === 0) return `“${file.name}” is empty.`;
  return null;
}

async function allDocuments(patientId) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ patientId, limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/documents?${query}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const SORTS = {
  newest: (a, b) => b.createdAt.localeCompare(a.createdAt),
  oldest: (a, b) => a.createdAt.localeCompare(b.createdAt),
  name: (a, b) => a.filename.localeCompare(b.filename, undefined, { sensitivity: "base" }),
  largest: (a, b) => b.sizeBytes - a.sizeBytes,
};

function uploader(patientId, onStored) {
  const status = h("div.upload-status", { "aria-live": "polite" });
  const inputEl = h("input.visually-hidden", { type: "file", id: "document-file", accept: "application/pdf,.pdf", multiple: true });
  const zone = h(
    "div.dropzone",
    {},
    h("p", {}, h("strong", {}, "Drop PDF files here"), " or "),
    h("label.button.secondary", { for: "document-file" }, "Choose files"),
    inputEl,
    h("p.hint", {}, "PDF only, at most 10 MB each. Encrypted PDFs cannot be stored."),
  );

  async function send(file) {
    const row = h("div.upload-row");
    status.append(row);
    const why = refusal(file);
    if (why) {
      row.replaceChildren(h("p.alert.error", { role: "alert" }, why));
      return;
    }
    const bar = h("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` });
    const label = h("span.progress-label", {}, "0%");
    row.replaceChildren(h("span.file-name", {}, file.name), bar, label);
    const form = new FormData();
    form.append("patientId", patientId);
    form.append("file", file, file.name);
    try {
      const accepted = await api.upload("/documents", form, (fraction) => {
        const percent = Math.round(fraction * 100);
        bar.value = percent;
        label.textContent = `${percent}%`;
      });
      bar.value = 100;
      label.textContent = "Uploaded, storing…";
      const job = await follow(accepted.jobId, (change) => {
        label.textContent = change.status === "succeeded" ? "Stored" : `Storing (${change.status})…`;
      });
      if (job?.status === "succeeded") {
        row.replaceChildren(h("p.alert.ok", {}, `“${file.name}” is stored.`));
        onStored();
      } else {
        row.replaceChildren(h("p.alert.error", { role: "alert" }, `“${file.name}” could not be stored: ${job?.error?.message || job?.status}`));
      }
    } catch (error) {
      row.replaceChildren(h("p.alert.error", { role: "alert" }, `“${file.name}”: ${error.message}`));
    }
  }

  const take = (files) => {
    status.replaceChildren();
    for (const file of files) send(file);
  };
  inputEl.addEventListener("change", () => {
    take([...inputEl.files]);
    inputEl.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take([...event.dataTransfer.files]);
  });
  return h("section.card", { "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, "Upload"), zone, status);
}

function documentTable(items, onChange) {
  const table = h("table.files", {},
    h("caption.visually-hidden", {}, "Your documents"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Size"),
      h("th", { scope: "col" }, "Pages"),
      h("th", { scope: "col" }, "Uploaded"),
      h("th", { scope: "col" }, h("span.visually-hidden", {}, "Actions")))),
    h("tbody", {}, items.map((doc) => h("tr", { dataset: { id: doc.id } },
      h("td", { "data-label": "Name" }, h("span.file-name", {}, doc.filename)),
      h("td", { "data-label": "Size" }, bytes(doc.sizeBytes)),
      h("td", { "data-label": "Pages" }, String(doc.pageCount)),
      h("td", { "data-label": "Uploaded" }, when(doc.createdAt)),
      h("td.actions", {},
        h("button.secondary", {
          type: "button",
          "aria-label": `Download ${doc.filename}`,
          onclick: async () => {
            try {
              saveBlob(await api.download(`/documents/${doc.id}/content`), doc.filename);
            } catch (error) {
              announce(error.message, "error");
            }
          },
        }, "Download"),
        session.current().role === "patient" ? h("button.danger", {
          type: "button",
          "aria-label": `Delete ${doc.filename}`,
          onclick: async () => {
            if (!(await confirmDialog(`Delete “${doc.filename}”?`, "Delete"))) return;
            try {
              await api.call("DELETE", `/documents/${doc.id}`);
              announce(`“${doc.filename}” deleted.`);
              onChange();
            } catch (error) {
              announce(error.message, "error");
            }
          },
        }, "Delete") : null)))));
  return table;
}

router.register({
  path: "/documents",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Documents"));
    const body = h("div");
    main.append(body);
    body.append(loading());
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
    const listArea = h("section.card", { "aria-labelledby": "list-title" });
    const search = h("input", { type: "search", id: "doc-search", placeholder: "Search by name" });
    const sort = h("select", { id: "doc-sort" },
      h("option", { value: "newest" }, "Newest first"),
      h("option", { value: "oldest" }, "Oldest first"),
      h("option", { value: "name" }, "Name"),
      h("option", { value: "largest" }, "Largest first"));
    const results = h("div.results");
    let items = [];

    const show = () => {
      const term = search.value.trim().toLowerCase();
      const shown = items.filter((d) => d.filename.toLowerCase().includes(term)).sort(SORTS[sort.value]);
      if (!items.length) results.replaceChildren(empty("No documents yet.", "Upload a PDF above to keep it here."));
      else if (!shown.length) results.replaceChildren(empty("No document matches your search."));
      else results.replaceChildren(documentTable(shown, load));
    };
    async function load() {
      results.replaceChildren(loading("Loading documents…"));
      try {
        items = await allDocuments(patients.current());
        show();
      } catch (error) {
        results.replaceChildren(errorBox(error));
      }
    }
    search.addEventListener("input", show);
    sort.addEventListener("change", show);
    listArea.append(
      h("h2", { id: "list-title" }, session.current().role === "patient" ? "Your documents" : "Their documents"),
      h("div.toolbar", {},
        h("div.field", {}, h("label", { for: "doc-search" }, "Search"), search),
        h("div.field", {}, h("label", { for: "doc-sort" }, "Sort"), sort)),
      results,
    );
    const pick = patients.picker(people, () => {
      body.replaceChildren(pick || "", uploader(patients.current(), load), listArea);
      load();
    });
    body.replaceChildren(pick || "", uploader(patients.current(), load), listArea);
    await load();
  },
});
