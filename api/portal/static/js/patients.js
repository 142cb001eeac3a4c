// Whose files a page shows: a patient sees their own; a doctor picks one of the patients
// an active connection links them to. The choice is kept in memory (never in the URL).

import * as api from "./api.js";
import * as session from "./session.js";
import { field, h } from "./ui.js";

let chosen = null;

/** [{id, name}] the caller may open files of. */
export async function reachable() {
  const account = session.current();
  if (account.role === "patient") return [{ id: account.id, name: account.name }];
  const connections = await api.get("/connections?status=active");
  const ids = [...new Set(connections.items.map((c) => c.patientId).filter(Boolean))];
  return Promise.all(
    ids.map(async (id) => {
      try {
        return { id, name: (await api.get(`/patients/${id}`)).name };
      } catch {
        return { id, name: id };
      }
    }),
  );
}

/** A labelled picker for doctors (nothing for a patient); calls ``onPick(id)``. */
export function picker(patients, onPick) {
  if (!chosen || !patients.some((p) => p.id === chosen)) chosen = patients[0]?.id ?? null;
  if (session.current().role === "patient") return null;
  const select = h(
    "select",
    { name: "patient" },
    patients.map((p) => h("option", { value: p.id, selected: p.id === chosen }, p.name)),
  );
  select.addEventListener("change", () => {
    chosen = select.value;
    onPick(chosen);
  });
  return h("div.picker", {}, field("Patient", select));
}

export function current() {
  return chosen;
}
