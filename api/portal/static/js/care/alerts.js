// A patient's health alerts (not resolved), newest first: what broke which rule, how bad,
// how often, since when. A connected doctor acknowledges an open one and resolves any.

import * as api from "../api.js";
import * as session from "../session.js";
import { announce, badge, empty, errorBox, h, loading, when, words } from "../ui.js";

function actions(alert, reload) {
  if (session.current().role !== "doctor") return null;
  const move = (verb, label, style) => h(`button.${style}`, {
    type: "button",
    "aria-label": `${label} alert: ${words(alert.summaryCode)}`,
    onclick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        await api.post(`/alerts/${alert.id}/${verb}`);
        announce(`Alert ${verb === "acknowledge" ? "acknowledged" : "resolved"}.`);
      } catch (error) {
        announce(error.message, "error");
      }
      reload();
    },
  }, label);
  return h("td.actions", {},
    alert.status === "open" ? move("acknowledge", "Acknowledge", "secondary") : null,
    move("resolve", "Resolve", "primary"));
}

function row(alert, reload) {
  return h("tr", { dataset: { id: alert.id, status: alert.status } },
    h("td", { "data-label": "Alert" }, h("strong", {}, words(alert.summaryCode)), h("br"), h("small.hint", {}, words(alert.rule))),
    h("td", { "data-label": "Severity" }, badge(`severity-${alert.severity.toLowerCase()}`, alert.severity.toLowerCase())),
    h("td", { "data-label": "Status" }, badge(alert.status)),
    h("td", { "data-label": "Times" }, String(alert.occurrences)),
    h("td", { "data-label": "Latest" }, when(alert.lastAt)),
    actions(alert, reload) || h("td.actions"));
}

/** A card listing the patient's alerts that are not resolved. */
export function alertsCard(patientId) {
  const body = h("div", {}, loading("Loading alerts…"));
  async function reload() {
    try {
      const page = await api.get(`/patients/${patientId}/alerts?limit=50`);
      body.replaceChildren(page.items.length
        ? h("table.files.alerts", {},
          h("caption.visually-hidden", {}, "Health alerts"),
          h("thead", {}, h("tr", {}, ["Alert", "Severity", "Status", "Times", "Latest"].map((c) => h("th", { scope: "col" }, c)),
            h("th", { scope: "col" }, h("span.visually-hidden", {}, "Actions")))),
          h("tbody", {}, page.items.map((alert) => row(alert, reload))))
        : empty("No open alerts.", "A reading outside the safe range, or doses missed, raise one here."));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  }
  return {
    el: h("section.card", { "aria-labelledby": "alerts-title" }, h("h2", { id: "alerts-title" }, "Health alerts"), body),
    reload,
  };
}
