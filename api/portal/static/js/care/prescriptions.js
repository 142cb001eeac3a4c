// Prescriptions: read (the patient and their connected doctors), and for a doctor, a draft
// written item by item (medicines searched in the catalogue), then activated.

import * as api from "../api.js";
import * as session from "../session.js";
import {
  announce, badge, confirmDialog, day, empty, errorBox, field, h, loading, localDate, submitting, words,
} from "../ui.js";
import { medicine, medicineLabel, search } from "./medicines.js";

const TIMINGS = {
  any: "Any time",
  before_meals: "Before meals",
  with_meals: "With meals",
  after_meals: "After meals",
  empty_stomach: "On an empty stomach",
  at_bedtime: "At bedtime",
};
const FREQUENCIES = ["OD", "BID", "TID", "QID", "q8h", "1-0-1", "once daily at bedtime", "every other day", "weekly", "PRN"];

/** Every item of a patient's prescriptions by item id: {item, prescription}. */
export async function itemsOf(patientId) {
  const items = new Map();
  const page = await api.get(`/prescriptions?${new URLSearchParams({ patientId, limit: "100" })}`);
  for (const prescription of page.items) {
    for (const item of prescription.items) items.set(item.id, { item, prescription });
  }
  return { items, prescriptions: page.items };
}

/** "1 tablet, 500 mg, BID (08:00, 20:00), after meals" */
export function itemSummary(item) {
  const times = item.schedule.asNeeded ? "as needed" : `${item.frequency} at ${item.schedule.times.join(", ")}`;
  const timing = item.timing === "any" ? "" : `, ${TIMINGS[item.timing].toLowerCase()}`;
  return `${item.doseAmount} ${item.doseForm}, ${item.strength}, ${times}${timing}`;
}

async function itemView(item) {
  const found = await medicine(item.medicineId);
  return h("li", {},
    h("strong", {}, medicineLabel(found)), h("br"),
    itemSummary(item), h("br"),
    h("small.hint", {}, "From ", day(item.startDate), " to ", day(item.endDate), item.instructions ? ` · ${item.instructions}` : ""));
}

function doctorActions(prescription, reload) {
  if (session.current().role !== "doctor" || session.current().id !== prescription.doctorId) return null;
  const act = (verb, label, style, question) => h(`button.${style}`, {
    type: "button",
    onclick: async (event) => {
      const button = event.currentTarget;
      if (question && !(await confirmDialog(question, label))) return;
      button.disabled = true;
      try {
        const answer = await api.post(`/prescriptions/${prescription.id}/${verb}`);
        announce(`Prescription ${answer.status}.`);
      } catch (error) {
        announce(error.message, "error");
      }
      reload();
    },
  }, label);
  return h("div.actions", {},
    prescription.status === "draft" ? act("activate", "Activate", "primary") : null,
    prescription.status === "active" ? act("complete", "Complete", "secondary", "Complete this prescription? Doses still to come are cancelled.") : null,
    ["draft", "active"].includes(prescription.status) ? act("cancel", "Cancel prescription", "danger", "Cancel this prescription?") : null);
}

async function prescriptionView(prescription, reload) {
  return h("article.prescription", { dataset: { id: prescription.id, status: prescription.status } },
    h("header", {}, badge(prescription.status), " ", h("span", {}, "From ", day(prescription.startsOn), " to ", day(prescription.endsOn))),
    h("ul.items", {}, await Promise.all(prescription.items.map(itemView))),
    doctorActions(prescription, reload));
}

/** A card with the patient's prescriptions, newest first; a doctor also writes one here. */
export function prescriptionsCard(patientId) {
  const list = h("div", {}, loading("Loading prescriptions…"));
  const doctor = session.current().role === "doctor";
  async function reload() {
    try {
      const { prescriptions } = await itemsOf(patientId);
      list.replaceChildren(prescriptions.length
        ? h("div.prescriptions", {}, await Promise.all(prescriptions.map((p) => prescriptionView(p, reload))))
        : empty("No prescriptions yet.", doctor ? "Write one below: it starts as a draft you activate." : "Your doctor's prescriptions appear here."));
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  }
  const el = h("section.card", { "aria-labelledby": "prescriptions-title" },
    h("h2", { id: "prescriptions-title" }, "Prescriptions"), list,
    doctor ? draftForm(patientId, reload) : null);
  return { el, reload };
}

let itemCount = 0;

/** One item's fields: the catalogue search fills the medicine choice, which fills strengths. */
function itemFields(position, onRemove) {
  const n = ++itemCount; // unique ids on the page; ``position`` is what a person reads
  const query = h("input", { type: "search", id: `medicine-search-${n}`, autocomplete: "off", placeholder: "e.g. amoxicillin" });
  const choice = h("select", { name: "medicineId", required: true, id: `medicine-${n}` }, h("option", { value: "" }, "Search first"));
  const strength = h("select", { name: "strength", required: true, id: `strength-${n}` });
  const form = h("input", { name: "doseForm", required: true, maxlength: "50", value: "tablet", id: `dose-form-${n}` });
  const status = h("small.hint", { "aria-live": "polite" });
  let found = [];
  let timer = null;
  query.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = query.value.trim();
      if (q.length < 2) return;
      try {
        found = await search(q);
      } catch (error) {
        status.textContent = error.message;
        return;
      }
      status.textContent = found.length ? `${found.length} found` : "Nothing in the catalogue matches.";
      choice.replaceChildren(...(found.length ? found.map((m) => h("option", { value: m.id }, medicineLabel(m))) : [h("option", { value: "" }, "Nothing found")]));
      choice.dispatchEvent(new Event("change"));
    }, 250);
  });
  choice.addEventListener("change", () => {
    const chosen = found.find((m) => m.id === choice.value);
    strength.replaceChildren(...(chosen ? chosen.strengths.map((s) => h("option", { value: s }, s)) : []));
    if (chosen) form.value = chosen.dosageForm.includes("liquid") || chosen.dosageForm.includes("solution") ? "mL" : chosen.dosageForm.includes("inhaler") ? "puff" : chosen.dosageForm.replace(/_/g, " ").replace(/.* (tablet)$/, "$1");
  });
  const frequency = h("input", { name: "frequency", required: true, list: "frequencies", value: "BID", maxlength: "100" });
  const fieldset = h("fieldset.item", {},
    h("legend", {}, `Medicine ${position}`),
    h("div.grid", {},
      field("Find in the catalogue", query), field("Medicine", choice, null), field("Strength", strength),
      field("Dose", h("input", { name: "doseAmount", required: true, value: "1", maxlength: "10" }), "1, 0.5 or 1/2"),
      field("Dose form", form),
      field("How often", frequency, "OD, BID, TID, q8h, 1-0-1, PRN…"),
      field("When", h("select", { name: "timing" }, Object.entries(TIMINGS).map(([v, l]) => h("option", { value: v }, l)))),
      field("Starts on", h("input", { name: "startDate", type: "date", required: true, value: localDate() })),
      field("For how many days", h("input", { name: "durationDays", type: "number", min: "1", max: "366", required: true, value: "7" })),
      field("Instructions", h("input", { name: "instructions", maxlength: "500" }))),
    status,
    onRemove ? h("button.link-button", { type: "button", onclick: () => { fieldset.remove(); onRemove(); } }, `Remove medicine ${position}`) : null);
  return fieldset;
}

function itemOf(fieldset) {
  const value = (name) => fieldset.querySelector(`[name=${name}]`).value.trim();
  return {
    medicineId: value("medicineId"),
    strength: value("strength"),
    doseAmount: value("doseAmount"),
    doseForm: value("doseForm"),
    frequency: value("frequency"),
    timing: value("timing"),
    startDate: value("startDate"),
    durationDays: Number(value("durationDays")),
    instructions: value("instructions"),
  };
}

function draftForm(patientId, onSaved) {
  const items = h("div.items");
  const warnings = h("div", { "aria-live": "polite" });
  // later items can be removed; the rest are then numbered again from their fields
  const renumber = () => [...items.children].forEach((set, i) => {
    set.querySelector("legend").textContent = `Medicine ${i + 1}`;
    const remove = set.querySelector(".link-button");
    if (remove) remove.textContent = `Remove medicine ${i + 1}`;
  });
  const add = () => items.append(itemFields(items.children.length + 1, items.children.length ? renumber : null));
  add();
  const form = submitting(
    h("form.draft", {},
      h("datalist", { id: "frequencies" }, FREQUENCIES.map((f) => h("option", { value: f }))),
      items,
      h("div.actions", {},
        h("button.secondary", { type: "button", onclick: add }, "Add another medicine"),
        h("button.primary", { type: "submit" }, "Save draft"))),
    async () => {
      const written = await api.post("/prescriptions", { patientId, items: [...items.children].map(itemOf) });
      announce("Draft saved. Activate it to schedule the doses.");
      warnings.replaceChildren(...(await Promise.all(written.warnings.map(async (w) =>
        h("p.alert.error", { role: "alert" }, `${words(w.severity)} interaction: ${medicineLabel(await medicine(w.medicineId))} with ${medicineLabel(await medicine(w.interactsWith))}. ${w.note}`)))));
      items.replaceChildren();
      add();
      onSaved();
    });
  return h("section.draft-area", { "aria-labelledby": "draft-title" },
    h("h3", { id: "draft-title" }, "Write a prescription"), warnings, form);
}
