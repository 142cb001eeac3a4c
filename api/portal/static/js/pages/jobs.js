// Jobs: the caller's jobs, newest first, with live status for those still running.

import * as api from "../api.js";
import { FINAL, follow } from "../jobs-watch.js";
import * as router from "../router.js";
import { badge, empty, errorBox, h, loading, pageTitle, when } from "../ui.js";

const LIVE_AT_ONCE = 3; // each live job holds a connection; browsers allow ~6 per host
const KINDS = {
  "document.store": "Storing a document",
  "record.store": "Storing a record",
  "email.send": "Sending an e-mail",
};

let controller = null;
window.addEventListener("hashchange", () => controller?.abort());

function row(job) {
  const status = h("td", { "data-label": "Status" }, badge(job.status));
  const finished = h("td", { "data-label": "Finished" }, when(job.finishedAt) || "—");
  return {
    job,
    status,
    finished,
    el: h("tr", { dataset: { id: job.id } },
      h("td", { "data-label": "What" }, KINDS[job.kind] || job.kind),
      h("td", { "data-label": "Job" }, h("code", {}, job.id.slice(0, 8))),
      h("td", { "data-label": "Created" }, when(job.createdAt)),
      status,
      h("td", { "data-label": "Attempts" }, `${job.attempts} / ${job.maxAttempts}`),
      finished),
  };
}

router.register({
  path: "/jobs",
  signedIn: true,
  async render(main) {
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    main.append(pageTitle("Jobs"));
    const body = h("section.card", {}, loading("Loading jobs…"));
    main.append(body);
    let page;
    try {
      page = await api.get("/jobs?limit=50");
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    if (!page.items.length) {
      body.replaceChildren(empty("No jobs yet.", "Uploads and other background work show here with their live status."));
      return;
    }
    const rows = page.items.map(row);
    body.replaceChildren(h("table.files", {},
      h("caption.visually-hidden", {}, "Your jobs"),
      h("thead", {}, h("tr", {}, ["What", "Job", "Created", "Status", "Attempts", "Finished"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((r) => r.el))));
    for (const r of rows.filter((r) => !FINAL.has(r.job.status)).slice(0, LIVE_AT_ONCE)) {
      follow(r.job.id, (change) => r.status.replaceChildren(badge(change.status)), signal)
        .then((job) => job && r.finished.replaceChildren(when(job.finishedAt) || "—"))
        .catch(() => {});
    }
  },
});
