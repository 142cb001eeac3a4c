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

export function badge(status) {
  return h(`span.badge.status-${status}`, {}, status.replace(/_/g, " "));
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
