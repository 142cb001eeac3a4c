// The medicines catalogue as pages need it: names by id (each fetched once per page load)
// and a search. The catalogue names no patient.

import * as api from "../api.js";

const known = new Map();

/** The catalogue entry of ``id`` (cached); null if it cannot be read. */
export function medicine(id) {
  if (!known.has(id)) known.set(id, api.get(`/medicines/${id}`).catch(() => null));
  return known.get(id);
}

/** "amoxicillin 500 mg capsule" style label of a medicine (its generic name and form). */
export function medicineLabel(found) {
  if (!found) return "A medicine";
  const brands = found.brandNames.length ? ` (${found.brandNames.slice(0, 2).join(", ")})` : "";
  return `${found.genericName}, ${found.dosageForm.replace(/_/g, " ")}${brands}`;
}

export async function search(q, limit = 10) {
  const query = new URLSearchParams({ q, limit: String(limit) });
  const found = await api.get(`/medicines?${query}`);
  for (const item of found.items) known.set(item.id, Promise.resolve(item));
  return found.items;
}
