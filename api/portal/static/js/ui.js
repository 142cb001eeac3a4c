// Small DOM helpers shared by every page: elements, times in the user's zone, sizes,
// loading / empty / error states, announcements for screen readers, confirmation.

/** h("button.primary", {type: "submit", onclick}, "Save") */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An ISO time as a <time> in the user's own time zone. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: date.toISOString() }, timeFormat.format(date));
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** A local calendar day ("2026-12-06", no zone of its own) as a <time>: "Sun, 6 Dec". */
export function day(isoDate) {
  return h("time", { datetime: isoDate }, dayFormat.format(new Date(`${isoDate}T00:00:00Z`)));
}

/** An ISO time's clock time in the user's zone, as a <time>. */
export function clock(iso) {
  const date = new Date(iso);
  return h("time", { datetime: date.toISOString() }, clockFormat.format(date));
}

/** The YYYY-MM-DD of an instant in an IANA zone (the browser's by default). */
export function localDate(instant = new Date(), timeZone = undefined) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(instant);
}

/** A share between 0 and 1 as a whole percentage; "—" when there is none. */
export function percent(ratio) {
  return ratio === null || ratio === undefined ? "—" : `${Math.round(ratio * 100)}%`;
}

// Minor units per currency as the API counts them (USD cents, KHR whole riel).
const MINOR_DIGITS = { USD: 2, KHR: 0 };

/** An integer amount of minor units shown as money, without ever going through a float. */
export function money(amountMinor, currency) {
  const digits = MINOR_DIGITS[currency] ?? 2;
  const text = String(Math.abs(amountMinor)).padStart(digits + 1, "0");
  const decimal = digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
  return format.format(`${amountMinor < 0 ? "-" : ""}${decimal}`);
}

/** A code such as "severe_hypertension" or "blood_pressure.high" as words. */
export function words(code) {
  const text = String(code).replace(/[._]/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function loading(label = "Loading…") {
  return h("p.state.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), label);
}

export function empty(text, hint) {
  return h("div.state.empty", {}, h("p", {}, text), hint ? h("p.hint", {}, hint) : null);
}

export function errorBox(error) {
  return h("p.alert.error", { role: "alert" }, error?.message || String(error));
}

export function badge(status, label) {
  return h(`span.badge.status-${String(status).toLowerCase()}`, {}, label || String(status).replace(/_/g, " ").toLowerCase());
}

/** Say something to screen readers (and show it briefly). */
export function announce(text, tone = "info") {
  const region = document.getElementById("toast");
  region.replaceChildren(h(`p.toast.${tone}`, {}, text));
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => region.replaceChildren(), 6000);
}

/** A modal yes/no question; resolves true when confirmed. */
export function confirmDialog(question, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog.confirm",
      { "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, question),
      h(
        "form",
        { method: "dialog" },
        h("div.actions", {},
          h("button.secondary", { value: "cancel", type: "submit" }, "Cancel"),
          h("button.danger", { value: "yes", type: "submit" }, confirmLabel)),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A modal question with one required text answer; resolves the text, or null if cancelled. */
export function askDialog(question, label, confirmLabel, { maxlength = 500 } = {}) {
  return new Promise((resolve) => {
    const input = h("input", { type: "text", name: "answer", required: true, maxlength: String(maxlength), autocomplete: "off" });
    const form = h("form", { method: "dialog" },
      field(label, input),
      h("div.actions", {},
        h("button.secondary", { value: "cancel", type: "submit", formnovalidate: true }, "Cancel"),
        h("button.primary", { value: "yes", type: "submit" }, confirmLabel)));
    const dialog = h("dialog.confirm", { "aria-labelledby": "ask-title" }, h("h2", { id: "ask-title" }, question), form);
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes" ? input.value.trim() || null : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintEl = hint ? h("small.hint", { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div.field", {}, h("label", { for: id }, label), input, hintEl);
}

/** Save a Blob under a name (an object URL, revoked at once after the click). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A page heading that also sets the tab title (never PHI: page names only). */
export function pageTitle(text) {
  document.title = `${text} · healthplat`;
  return h("h1", { tabindex: "-1" }, text);
}

/** Run a form's async submit with its button busy and errors shown in the form. */
export function submitting(form, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const out = form.querySelector(".form-error") || form.appendChild(h("div.form-error"));
    out.replaceChildren();
    button.disabled = true;
    try {
      await work(new FormData(form));
    } catch (error) {
      out.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
