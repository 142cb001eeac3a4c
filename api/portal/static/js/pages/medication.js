// Medication (a patient): today's doses and the next days' to mark taken or skipped, the
// prescriptions they come from (read only), adherence over time, health alerts, vital signs,
// and the time zone the doses are scheduled in.

import * as api from "../api.js";
import { adherenceCard } from "../chart.js";
import { alertsCard } from "../care/alerts.js";
import { medicine, medicineLabel } from "../care/medicines.js";
import { itemsOf, prescriptionsCard } from "../care/prescriptions.js";
import { vitalsCard } from "../care/vitals.js";
import * as router from "../router.js";
import * as session from "../session.js";
import {
  announce, askDialog, badge, clock, day, empty, errorBox, field, h, loading, localDate, pageTitle, submitting,
} from "../ui.js";

const DAYS_AHEAD = 3; // today and the next three days
const MARKABLE_BEFORE_MS = 12 * 3600_000; // the API takes a dose as taken up to 12 h before it is due
const MARKABLE = new Set(["scheduled", "taken", "skipped", "missed"]);
// After a mark, adherence is read again as the roll-up job catches up (it runs every
// ADHERENCE_INTERVAL_SECONDS): at these delays, until the figures change.
const RECHECKS_MS = [1500, 3000, 6000, 12000, 24000, 48000];

let rechecking = null;
window.addEventListener("hashchange", () => clearTimeout(rechecking));

function recheckAdherence(adherence, before) {
  clearTimeout(rechecking);
  const step = (i) => {
    if (i >= RECHECKS_MS.length) return;
    rechecking = setTimeout(async () => {
      const now = await adherence.reload();
      if (JSON.stringify(now) === JSON.stringify(before)) step(i + 1);
    }, RECHECKS_MS[i]);
  };
  step(0);
}

function doseLabel(dose, items) {
  const entry = items.get(dose.itemId);
  return entry ? { item: entry.item, name: medicine(entry.item.medicineId) } : { item: null, name: Promise.resolve(null) };
}

async function doseRow(dose, items, onMarked) {
  const { item, name } = doseLabel(dose, items);
  const label = medicineLabel(await name);
  const amount = item ? `${dose.amount === "1" ? item.doseAmount : `${dose.amount} × ${item.doseAmount}`} ${item.doseForm}, ${item.strength}` : "";
  const due = new Date(dose.dueAt).getTime();
  const canMark = MARKABLE.has(dose.status) && due - Date.now() <= MARKABLE_BEFORE_MS;
  const mark = async (button, verb, body) => {
    button.disabled = true;
    try {
      await api.post(`/doses/${dose.id}/${verb}`, body);
      announce(verb === "taken" ? "Marked as taken." : "Marked as skipped.");
    } catch (error) {
      announce(error.message, "error");
    }
    onMarked();
  };
  return h("li.dose", { dataset: { id: dose.id, status: dose.status } },
    h("span.dose-time", {}, clock(dose.dueAt)),
    h("span.dose-what", {}, h("strong", {}, label), h("br"), h("small", {}, amount)),
    h("span.dose-status", {}, badge(dose.status), dose.late ? badge("late") : null,
      dose.reason ? h("small.hint", {}, ` ${dose.reason}`) : null),
    canMark ? h("span.actions", {},
      dose.status !== "taken" ? h("button.primary", {
        type: "button",
        "aria-label": `Taken: ${label} at ${clock(dose.dueAt).textContent}`,
        onclick: (event) => mark(event.currentTarget, "taken"),
      }, "Taken") : null,
      dose.status !== "skipped" ? h("button.secondary", {
        type: "button",
        "aria-label": `Skip: ${label} at ${clock(dose.dueAt).textContent}`,
        onclick: async (event) => {
          const button = event.currentTarget;
          const reason = await askDialog("Why are you skipping this dose?", "Reason", "Skip dose");
          if (reason) mark(button, "skipped", { reason });
        },
      }, "Skip") : null) : null);
}

function dosesCard(patientId, timeZone, onMarked) {
  const body = h("div", {}, loading("Loading doses…"));
  async function reload() {
    try {
      const from = new Date(Date.now() - 24 * 3600_000);
      const to = new Date(Date.now() + (DAYS_AHEAD + 1) * 24 * 3600_000);
      const [doses, { items }] = await Promise.all([
        api.get(`/patients/${patientId}/doses?${new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: "500" })}`),
        itemsOf(patientId),
      ]);
      const today = localDate(new Date(), timeZone);
      const days = new Map();
      for (const dose of doses.items) {
        if (dose.localDate < today && !["scheduled", "missed"].includes(dose.status)) continue;
        if (!days.has(dose.localDate)) days.set(dose.localDate, []);
        days.get(dose.localDate).push(dose);
      }
      if (!days.size) {
        body.replaceChildren(empty("No doses in the next days.", "Doses appear here once your doctor activates a prescription."));
        return;
      }
      const soon = [];
      const later = [];
      for (const [date, list] of [...days].sort(([a], [b]) => a.localeCompare(b))) {
        const heading = date === today ? "Today" : date < today ? "Earlier, still open" : null;
        const rows = await Promise.all(list.sort((a, b) => a.dueAt.localeCompare(b.dueAt)).map((d) => doseRow(d, items, () => onMarked(reload))));
        // a day ahead whose doses can already be marked (up to 12 h early) stays in view:
        // at 23:00 the dose of 00:00 is tomorrow's, and it is the next one to take
        const markableNow = list.some((d) => new Date(d.dueAt).getTime() - Date.now() <= MARKABLE_BEFORE_MS);
        (date <= today || markableNow ? soon : later).push(h("section.day", { "aria-label": heading || day(date).textContent, dataset: { date } },
          h("h3", {}, heading ? `${heading} · ` : "", day(date)), h("ul.doses", {}, rows)));
      }
      // the days after those fold away, open when nothing is left in view
      const sections = [...soon];
      if (later.length) sections.push(h("details.next-days", { open: !soon.length }, h("summary", {}, `The next ${later.length === 1 ? "day" : `${later.length} days`}`), ...later));
      body.replaceChildren(...sections);
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  }
  const el = h("section.card", { "aria-labelledby": "doses-title" },
    h("h2", { id: "doses-title" }, "Doses"),
    h("p.hint", {}, `Times in your time zone. Mark a dose when you take it (up to 12 hours early) or skip it with a reason.`),
    body);
  return { el, reload };
}

function timeZoneCard(patientId, current, onChanged) {
  const device = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [device];
  if (!zones.includes(current)) zones.unshift(current);
  const select = h("select", { name: "timeZone" }, zones.map((z) => h("option", { value: z, selected: z === current }, z.replace(/_/g, " "))));
  const save = async (zone) => {
    await api.json("PUT", `/patients/${patientId}/time-zone`, { body: { timeZone: zone } });
    announce(`Doses now follow ${zone.replace(/_/g, " ")} time.`);
    onChanged();
  };
  return h("section.card", { "aria-labelledby": "zone-title" },
    h("h2", { id: "zone-title" }, "Time zone"),
    h("p", {}, "Your doses fall at their local times in ", h("strong", { id: "current-zone" }, current.replace(/_/g, " ")), "."),
    current !== device ? h("p.alert.warn", {}, `This device is set to ${device.replace(/_/g, " ")}. `,
      h("button.secondary", { type: "button", onclick: () => save(device).catch((e) => announce(e.message, "error")) }, `Use ${device.replace(/_/g, " ")}`)) : null,
    submitting(h("form.inline", {}, field("Time zone", select), h("button.secondary", { type: "submit" }, "Save time zone")),
      async () => save(select.value)));
}

router.register({
  path: "/medication",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Medication"));
    const account = session.current();
    if (account.role !== "patient") {
      main.append(empty("Medication is a patient's page.", "Doctors see a patient's medication from Patients."));
      return;
    }
    const body = h("div", {}, loading());
    main.append(body);
    let timeZone;
    try {
      timeZone = (await api.get(`/patients/${account.id}/time-zone`)).timeZone;
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const adherence = adherenceCard(account.id);
    const doses = dosesCard(account.id, timeZone, async (reloadDoses) => {
      const before = await adherence.reload();
      reloadDoses();
      recheckAdherence(adherence, before);
    });
    const prescriptions = prescriptionsCard(account.id);
    const alerts = alertsCard(account.id);
    const vitals = vitalsCard(account.id, () => alerts.reload());
    body.replaceChildren(
      h("div.columns", {},
        h("div", {}, doses.el, adherence.el),
        h("div", {}, alerts.el, vitals.el, prescriptions.el, timeZoneCard(account.id, timeZone, () => router.go("/medication")))));
    await Promise.all([doses.reload(), adherence.reload(), prescriptions.reload(), alerts.reload(), vitals.reload()]);
  },
});
