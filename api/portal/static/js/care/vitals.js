// Vital signs: the newest reading of each kind, and a form to record one (the patient, or a
// connected doctor). The API refuses impossible values with a 422 naming the field.

import * as api from "../api.js";
import { announce, empty, errorBox, field, h, loading, submitting, when } from "../ui.js";

// Each kind: its label, its fields [name, label, attributes], and how a reading reads.
const KINDS = {
  blood_pressure: ["Blood pressure", [["systolic", "Systolic (mmHg)", { min: 40, max: 300 }], ["diastolic", "Diastolic (mmHg)", { min: 20, max: 200 }]],
    (r) => `${r.systolic}/${r.diastolic} mmHg`],
  heart_rate: ["Heart rate", [["bpm", "Beats per minute", { min: 20, max: 300 }]], (r) => `${r.bpm} bpm`],
  temperature: ["Temperature", [["celsius", "Temperature (°C)", { min: 25, max: 45, step: "0.1" }]], (r) => `${r.celsius} °C`],
  blood_sugar: ["Blood sugar", [["value", "Value", { min: 0.1, step: "0.1" }]], (r) => `${r.value} ${r.unit} (${r.context.replace("_", " ")})`],
  spo2: ["Oxygen saturation", [["percent", "SpO₂ (%)", { min: 50, max: 100 }]], (r) => `${r.percent}%`],
  weight: ["Weight", [["kg", "Weight (kg)", { min: 1, max: 400, step: "0.1" }]], (r) => `${r.kg} kg`],
  height: ["Height", [["cm", "Height (cm)", { min: 30, max: 250, step: "0.1" }]], (r) => `${r.cm} cm`],
};
const SUGAR_UNITS = ["mmol/L", "mg/dL"];
const SUGAR_CONTEXTS = { fasting: "Fasting", random: "Random", post_meal: "After a meal" };

/** What a reading says, as text ("186/112 mmHg"). */
export const reads = (reading) => KINDS[reading.type][2](reading);
export const kindLabel = (type) => KINDS[type]?.[0] || type;

/** The value of a datetime-local input for now, in the browser's zone. */
function nowLocal() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function inputsFor(type) {
  const [, fields] = KINDS[type];
  const parts = fields.map(([name, label, attrs]) =>
    field(label, h("input", { name, type: "number", required: true, inputmode: "decimal", step: "1", ...attrs })));
  if (type === "blood_sugar") {
    parts.push(
      field("Unit", h("select", { name: "unit" }, SUGAR_UNITS.map((u) => h("option", { value: u }, u)))),
      field("When", h("select", { name: "context" }, Object.entries(SUGAR_CONTEXTS).map(([v, l]) => h("option", { value: v }, l)))));
  }
  return parts;
}

function readingOf(type, data) {
  const reading = { type };
  for (const [name] of KINDS[type][1]) reading[name] = Number(data.get(name));
  if (type === "blood_sugar") {
    reading.unit = data.get("unit");
    reading.context = data.get("context");
  }
  return reading;
}

/** A card: the newest reading of each kind and the form to record one. */
export function vitalsCard(patientId, onRecorded = () => {}) {
  const latest = h("div", {}, loading("Loading readings…"));
  const kind = h("select", { name: "type", id: "vital-type" },
    Object.entries(KINDS).map(([value, [label]]) => h("option", { value }, label)));
  const valueFields = h("div.grid", {}, inputsFor(kind.value));
  kind.addEventListener("change", () => valueFields.replaceChildren(...inputsFor(kind.value)));
  const form = submitting(
    h("form", {},
      h("div.grid", {},
        field("Kind of reading", kind),
        field("Measured at", h("input", { name: "measuredAt", type: "datetime-local", required: true, value: nowLocal() }))),
      valueFields,
      h("button.primary", { type: "submit" }, "Record reading")),
    async (data) => {
      await api.post(`/patients/${patientId}/vitals`, {
        reading: readingOf(kind.value, data),
        measuredAt: new Date(data.get("measuredAt")).toISOString(),
      });
      announce("Reading recorded.");
      valueFields.replaceChildren(...inputsFor(kind.value));
      reload();
      onRecorded();
    });

  async function reload() {
    try {
      const found = await api.get(`/patients/${patientId}/vitals/latest`);
      latest.replaceChildren(found.items.length
        ? h("dl.meta.vitals", {}, found.items.flatMap((item) => [
          h("dt", {}, kindLabel(item.type)),
          h("dd", { dataset: { type: item.type } }, h("strong", {}, reads(item.reading)), " · ", when(item.measuredAt)),
        ]))
        : empty("No readings yet.", "Record one below; a reading outside the safe range raises an alert."));
    } catch (error) {
      latest.replaceChildren(errorBox(error));
    }
  }
  const el = h("section.card", { "aria-labelledby": "vitals-title" },
    h("h2", { id: "vitals-title" }, "Vital signs"),
    h("h3", {}, "Latest"), latest,
    h("h3", {}, "Record a reading"), form);
  return { el, reload };
}
