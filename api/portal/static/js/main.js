// The portal's shell: the header and navigation, the page for the address, and the
// session's live parts (unread notices). Each page is one module under pages/.

import { h } from "./ui.js";
import * as live from "./live.js";
import * as router from "./router.js";
import * as session from "./session.js";
import { pendingLink } from "./pages/auth.js";
import "./pages/documents.js";
import "./pages/records.js";
import "./pages/jobs.js";
import "./pages/connections.js";
import "./pages/notices.js";
import "./pages/medication.js";
import "./pages/patients.js";
import "./pages/payments.js";

const NAV = [
  ["/medication", "Medication", ["patient"]],
  ["/patients", "Patients", ["doctor"]],
  ["/documents", "Documents"],
  ["/records", "Records"],
  ["/payments", "Payments", ["patient"]],
  ["/jobs", "Jobs"],
  ["/connections", "Connections"],
  ["/notices", "Notices"],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");

function unreadBadge(count) {
  return h("span.count", { "aria-label": `${count} unread`, "data-unread": count }, String(count));
}

function renderNav() {
  const account = session.current();
  const path = location.hash.replace(/^#/, "");
  if (!account) {
    nav.replaceChildren(
      h("a", { href: "#/signin", "aria-current": path === "/signin" ? "page" : null }, "Sign in"),
      h("a", { href: "#/signup", "aria-current": path === "/signup" ? "page" : null }, "Create account"),
    );
    return;
  }
  const links = NAV.filter(([, , roles]) => !roles || roles.includes(account.role)).map(([href, label]) =>
    h(
      "a",
      { href: `#${href}`, "aria-current": path === href || path.startsWith(`${href}/`) ? "page" : null },
      label,
      href === "/notices" && live.unreadCount() ? unreadBadge(live.unreadCount()) : null,
    ),
  );
  nav.replaceChildren(
    ...links,
    h("span.who", {}, account.role),
    h("button.link", { type: "button", id: "signout", onclick: signOut }, "Sign out"),
  );
}

async function signOut() {
  live.stop();
  await session.signOut();
  router.go("/signin");
}

let rendering = 0;
async function render() {
  const turn = ++rendering;
  const account = session.current();
  let found = router.match(location.hash);
  if (!found || location.hash === "" || location.hash === "#/") {
    router.go(account ? "/documents" : "/signin");
    return;
  }
  if (found.page.signedIn && !account) {
    router.go("/signin");
    return;
  }
  if (found.page.signedOut && account) {
    router.go("/documents");
    return;
  }
  renderNav();
  main.replaceChildren();
  main.setAttribute("aria-busy", "true");
  try {
    await found.page.render(main, found.params);
  } finally {
    if (turn === rendering) main.removeAttribute("aria-busy");
  }
  const heading = main.querySelector("h1");
  if (heading) heading.focus({ preventScroll: true });
}

session.onChange((account) => {
  if (account) live.start();
  else live.stop();
  renderNav();
});
live.onNotice(() => renderNav());
window.addEventListener("hashchange", render);

async function boot() {
  const link = pendingLink();
  if (!link) await session.restore();
  if (link) router.go(link);
  await render();
  document.body.classList.add("ready");
}

boot();
