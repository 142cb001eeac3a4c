// A patient's adherence over time: bars drawn as inline SVG from
// GET /patients/{id}/adherence (no chart library), a sentence that sums it up, and the same
// figures as a table for screen readers and anyone who prefers numbers.

import * as api from "./api.js";
import { day, empty, errorBox, h, loading, localDate, percent } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const ADHERENT = 0.8; // PDC at or above this is called adherent; the chart draws the line
const LOW = 0.5; // below this a week raises a HIGH adherence alert
const SPANS = { day: 30, week: 12 * 7 }; // days shown per granularity
const HEIGHT = 160;
const PLOT_TOP = 10;
const PLOT_BOTTOM = 130;
const LEFT = 42;
const RIGHT = 18;
const tickFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const DIRECTIONS = { improving: "improving", worsening: "getting worse", steady: "steady", unknown: "no earlier figures to compare" };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

const y = (ratio) => PLOT_BOTTOM - ratio * (PLOT_BOTTOM - PLOT_TOP);

function tone(ratio) {
  if (ratio === null) return "none";
  if (ratio < LOW) return "low";
  return ratio < ADHERENT ? "fair" : "good";
}

function bucketLabel(bucket, granularity) {
  return `${granularity === "week" ? "Week of " : ""}${day(bucket.start).textContent}`;
}

const EMPTY_TALLY = { due: 0, taken: 0, late: 0, skipped: 0, missed: 0, adherence: null };

function addDays(isoDate, days) {
  const at = new Date(`${isoDate}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

/** Every day (or ISO week, from its Monday) of the period: the API sends only those with doses. */
export function allBuckets(report) {
  const byStart = new Map(report.buckets.map((b) => [b.start, b.tally]));
  const week = report.granularity === "week";
  const weekday = (new Date(`${report.from}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday 0
  const filled = [];
  for (let start = week ? addDays(report.from, -weekday) : report.from; start <= report.to; start = addDays(start, week ? 7 : 1)) {
    filled.push({ start, tally: byStart.get(start) || EMPTY_TALLY });
  }
  return filled;
}

/** The bars; every bar has its own <title> (hover, and read by some screen readers). */
export function bars(report, labelledBy) {
  const buckets = allBuckets(report);
  const n = buckets.length;
  const step = Math.max(12, Math.floor(420 / Math.max(n, 1)));
  const width = LEFT + n * step + RIGHT;
  const grid = [0, LOW, ADHERENT, 1].map((ratio) => svg("g", { class: ratio === ADHERENT ? "grid target" : "grid" },
    svg("line", { x1: LEFT, x2: width, y1: y(ratio), y2: y(ratio) }),
    svg("text", { x: LEFT - 4, y: y(ratio) + 4, "text-anchor": "end" }, `${ratio * 100}%`)));
  const labelEvery = Math.ceil(n / 8);
  const columns = buckets.map((bucket, i) => {
    const ratio = bucket.tally.adherence;
    const x = LEFT + i * step + step * 0.15;
    const barWidth = step * 0.7;
    const label = bucketLabel(bucket, report.granularity);
    const said = ratio === null ? "no doses due" : `${percent(ratio)} (${bucket.tally.taken} of ${bucket.tally.due} taken)`;
    const shape = ratio === null
      ? svg("rect", { class: "bar none", x, width: barWidth, y: PLOT_BOTTOM - 3, height: 3 })
      : svg("rect", { class: `bar ${tone(ratio)}`, x, width: barWidth, y: y(ratio), height: Math.max(PLOT_BOTTOM - y(ratio), 1) });
    shape.append(svg("title", {}, `${label}: ${said}`));
    const tick = i % labelEvery === 0
      ? svg("text", { class: "tick", x: x + barWidth / 2, y: PLOT_BOTTOM + 16, "text-anchor": "middle" }, tickFormat.format(new Date(`${bucket.start}T00:00:00Z`)))
      : null;
    return svg("g", { "data-start": bucket.start, "data-adherence": ratio ?? "" }, shape, ...(tick ? [tick] : []));
  });
  return svg("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img",
    "aria-labelledby": labelledBy,
    preserveAspectRatio: "xMinYMid meet",
  }, ...grid, ...columns);
}

/** One sentence: the period's adherence, PDC and trend. */
export function summary(report) {
  const total = report.total;
  if (total.adherence === null) return "No doses were due in this period yet.";
  const trend = report.trend.direction === "unknown" ? "" : `; ${DIRECTIONS[report.trend.direction]} against the period before`;
  return `${percent(total.adherence)} of doses taken (${total.taken} of ${total.due}; ${total.late} late, ` +
    `${total.skipped} skipped, ${total.missed} missed); days fully covered ${percent(total.pdc)}${trend}.`;
}

function table(report) {
  return h("details.figures", {},
    h("summary", {}, "The figures as a table"),
    h("table.files", {},
      h("caption.visually-hidden", {}, "Adherence per period"),
      h("thead", {}, h("tr", {}, ["Period", "Adherence", "Taken", "Due", "Missed", "Skipped"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, report.buckets.map((bucket) => h("tr", {},
        h("td", { "data-label": "Period" }, bucketLabel(bucket, report.granularity)),
        h("td", { "data-label": "Adherence" }, percent(bucket.tally.adherence)),
        h("td", { "data-label": "Taken" }, String(bucket.tally.taken)),
        h("td", { "data-label": "Due" }, String(bucket.tally.due)),
        h("td", { "data-label": "Missed" }, String(bucket.tally.missed)),
        h("td", { "data-label": "Skipped" }, String(bucket.tally.skipped)))))));
}

/** The period asked for: the last 30 days, or the 12 ISO weeks up to this one (from a Monday). */
function query(granularity) {
  const to = localDate(new Date());
  let from = addDays(to, -(SPANS[granularity] - 1));
  if (granularity === "week") from = addDays(to, -((new Date(`${to}T00:00:00Z`).getUTCDay() + 6) % 7) - (SPANS.week - 7));
  return new URLSearchParams({ granularity, from, to });
}

/**
 * A card with the chart, a per-day / per-week switch, the summary and the table.
 * Returns {el, reload()}; reload() resolves with the total, to compare before and after.
 */
export function adherenceCard(patientId) {
  const titleId = "adherence-title";
  const chartArea = h("div.chart-area", { "aria-live": "polite" }, loading("Loading adherence…"));
  let granularity = "day";
  const choices = Object.keys(SPANS).map((value) => {
    const input = h("input", { type: "radio", name: "granularity", value, id: `granularity-${value}`, checked: value === granularity });
    input.addEventListener("change", () => {
      granularity = value;
      reload();
    });
    return h("span.choice", {}, input, h("label", { for: input.id }, value === "day" ? "Per day (30 days)" : "Per week (12 weeks)"));
  });
  async function reload() {
    try {
      const report = await api.get(`/patients/${patientId}/adherence?${query(granularity)}`);
      const sentence = h("p.summary", { id: "adherence-summary" }, summary(report));
      const hasDue = report.buckets.some((b) => b.tally.due > 0);
      chartArea.replaceChildren(
        sentence,
        hasDue ? h("figure.chart-figure", {}, bars(report, `${titleId} adherence-summary`)) : empty("Nothing to chart yet.", "Bars appear once doses fall due and are taken, skipped or missed."),
        hasDue ? h("p.legend", { "aria-hidden": "true" },
          h("span.key.good", {}), "80% or more ", h("span.key.fair", {}), "50–79% ", h("span.key.low", {}), "under 50% ", h("span.key.none", {}), "nothing due") : null,
        hasDue ? table(report) : null);
      return report.total;
    } catch (error) {
      chartArea.replaceChildren(errorBox(error));
      return null;
    }
  }
  const el = h("section.card", { "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Adherence"),
    h("fieldset.choices", {}, h("legend", {}, "Show"), ...choices),
    chartArea);
  return { el, reload };
}
