// A doctor's patients: the dashboard (connected patients riskiest first, in pages), and one
// patient's view: adherence, alerts to acknowledge or resolve, vital signs, prescriptions
// (written and activated here), records and documents. URLs carry the patient's id only.

import * as api from "../api.js";
import { adherenceCard } from "../chart.js";
import { alertsCard } from "../care/alerts.js";
import { prescriptionsCard } from "../care/prescriptions.js";
import { vitalsCard } from "../care/vitals.js";
import * as router from "../router.js";
import * as session from "../session.js";
import {
  announce, badge, bytes, empty, errorBox, h, loading, pageTitle, percent, saveBlob, when,
} from "../ui.js";

const PAGE_SIZE = 20;

async function nameOf(patientId) {
  try {
    return (await api.get(`/patients/${patientId}`)).name;
  } catch {
    return `Patient ${patientId.slice(0, 8)}`;
  }
}

async function riskRow(entry) {
  const name = await nameOf(entry.patientId);
  const recent = entry.last30Days;
  return h("tr", { dataset: { id: entry.patientId } },
    h("td", { "data-label": "Patient" }, h("a", { href: `#/patients/${entry.patientId}` }, name)),
    h("td", { "data-label": "Adherence, 30 days" }, recent.adherence === null ? "nothing due" : `${percent(recent.adherence)} (${recent.taken}/${recent.due})`),
    h("td", { "data-label": "Days covered" }, percent(recent.pdc)),
    h("td", { "data-label": "Open alerts" }, String(entry.openAlerts),
      entry.topSeverity ? [" ", badge(`severity-${entry.topSeverity.toLowerCase()}`, entry.topSeverity.toLowerCase())] : null),
    h("td", { "data-label": "Latest alert" }, when(entry.lastAlertAt) || "—"));
}

router.register({
  path: "/patients",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Patients"));
    if (session.current().role !== "doctor") {
      main.append(empty("Patients is a doctor's page."));
      return;
    }
    main.append(h("p.hint", {}, "Your connected patients, riskiest first: the lowest adherence over the last 30 days, then the most open alerts."));
    const card = h("section.card", {}, loading("Loading patients…"));
    main.append(card);
    const rows = h("tbody");
    const more = h("div.actions");
    async function load(cursor) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      const page = await api.get(`/dashboard/patients?${query}`);
      rows.append(...(await Promise.all(page.items.map(riskRow))));
      more.replaceChildren(page.nextCursor ? h("button.secondary", {
        type: "button",
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          try {
            await load(page.nextCursor);
          } catch (error) {
            announce(error.message, "error");
          }
        },
      }, "Show more patients") : "");
      return page.items.length;
    }
    try {
      if (!(await load(null))) {
        card.replaceChildren(empty("No connected patients yet.", "Patients appear here once a connection is active."));
        return;
      }
    } catch (error) {
      card.replaceChildren(errorBox(error));
      return;
    }
    card.replaceChildren(h("table.files.risk", {},
      h("caption.visually-hidden", {}, "Connected patients, riskiest first"),
      h("thead", {}, h("tr", {}, ["Patient", "Adherence, 30 days", "Days covered", "Open alerts", "Latest alert"].map((c) => h("th", { scope: "col" }, c)))),
      rows), more);
  },
});

function listCard(id, title, loadItems, renderItem, emptyText) {
  const body = h("div", {}, loading());
  const el = h("section.card", { "aria-labelledby": id }, h("h2", { id }, title), body);
  const reload = async () => {
    try {
      const items = await loadItems();
      body.replaceChildren(items.length ? h("ul.plain", {}, items.map(renderItem)) : empty(emptyText));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  };
  return { el, reload };
}

function recordsCard(patientId) {
  return listCard("records-title", "Records",
    async () => (await api.get(`/records?${new URLSearchParams({ patientId, limit: "20" })}`)).items,
    (record) => h("li", {}, h("a", { href: `#/records/${record.id}` }, record.description || record.recordType.replace(/_/g, " ").toLowerCase()),
      " · ", when(record.createdAt), " ", badge(record.anchorStatus === "anchored" ? "anchored" : "stored")),
    "No records yet.");
}

function documentsCard(patientId) {
  return listCard("documents-title", "Documents",
    async () => (await api.get(`/documents?${new URLSearchParams({ patientId, limit: "20" })}`)).items,
    (doc) => h("li", {}, h("span.file-name", {}, doc.filename), ` · ${bytes(doc.sizeBytes)} · `, when(doc.createdAt), " ",
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
      }, "Download")),
    "No documents yet.");
}

router.register({
  path: "/patients/:id",
  signedIn: true,
  async render(main, { id }) {
    main.append(pageTitle("Patient"), h("p", {}, h("a", { href: "#/patients" }, "← All patients")));
    const body = h("div", {}, loading());
    main.append(body);
    let patient;
    try {
      patient = await api.get(`/patients/${id}`);
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const adherence = adherenceCard(id);
    const alerts = alertsCard(id);
    const vitals = vitalsCard(id, () => alerts.reload());
    const prescriptions = prescriptionsCard(id);
    const records = recordsCard(id);
    const documents = documentsCard(id);
    body.replaceChildren(
      h("p.lead", {}, h("strong", { id: "patient-name" }, patient.name)),
      h("div.columns", {},
        h("div", {}, alerts.el, adherence.el, prescriptions.el),
        h("div", {}, vitals.el, records.el, documents.el)));
    await Promise.all([adherence, alerts, vitals, prescriptions, records, documents].map((part) => part.reload()));
  },
});
