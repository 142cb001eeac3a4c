// Notices: in-app notifications, newest first, arriving live over the WebSocket.

import * as api from "../api.js";
import * as live from "../live.js";
import * as router from "../router.js";
import { announce, empty, errorBox, h, loading, pageTitle, when } from "../ui.js";

const LABELS = {
  "connection.request": "A patient asked to connect with you",
  "connection.accepted": "Your connection was accepted",
  "prescription.updated": "A prescription changed",
  "dose.reminder": "A dose is due",
  "health.alert": "A health alert",
  "payment.receipt": "A payment was received",
  "subscription.renewal": "A subscription renews soon",
};

let unsubscribe = null;
window.addEventListener("hashchange", () => unsubscribe?.());

function item(notice) {
  const li = h("li", { class: notice.readAt ? "notice" : "notice unread", dataset: { id: notice.id } },
    h("div", {}, h("strong", {}, LABELS[notice.type] || notice.type), h("br"), when(notice.createdAt)));
  if (!notice.readAt) {
    li.append(h("button.secondary", {
      type: "button",
      onclick: async () => {
        await api.post(`/notifications/${notice.id}/read`);
        li.classList.remove("unread");
        li.querySelector("button").remove();
        live.setUnread(live.unreadCount() - 1);
      },
    }, "Mark read"));
  }
  return li;
}

router.register({
  path: "/notices",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Notices"));
    const list = h("ul.notices");
    const body = h("section.card", {}, loading());
    main.append(body);
    let page;
    try {
      page = await api.get("/notifications?limit=50");
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const emptyState = empty("Nothing new.", "Connection requests and other news appear here as they happen.");
    list.append(...page.items.map(item));
    body.replaceChildren(
      h("div.toolbar", {}, h("button.secondary", {
        type: "button",
        onclick: async () => {
          const { marked } = await api.post("/notifications/read-all");
          announce(`${marked} marked read.`);
          live.setUnread(0);
          router.go("/notices");
        },
      }, "Mark all read")),
      page.items.length ? list : emptyState);
    unsubscribe?.();
    unsubscribe = live.onNotice(({ notice }) => {
      if (!notice) return;
      if (!list.isConnected) body.replaceChildren(body.firstChild, list);
      list.prepend(item(notice));
    });
  },
});
