// Payments and subscriptions (a patient): your plan, the plans with their prices, subscribing
// (a Bakong KHQR code to scan, its status followed live until paid and the plan active),
// your payments and their receipts. Amounts are integers of minor units, never floats.
//
// The QR image needs the bearer token, so an <img> cannot fetch it itself: its bytes are
// fetched with the token and shown through a blob: URL (CSP img-src 'self' blob:, no data:).

import * as api from "../api.js";
import * as router from "../router.js";
import * as session from "../session.js";
import {
  announce, badge, confirmDialog, empty, errorBox, field, h, loading, money, pageTitle, submitting, when, words,
} from "../ui.js";

const POLL_MS = 2000; // a pending payment's status, read again this often
const ACTIVATION_POLL_MS = 1500;
const ENTITLEMENTS = {
  consultationsPerMonth: "consultations a month",
  ocrScansPerMonth: "prescription scans a month",
  connectedDoctors: "connected doctors",
};
const PURPOSES = { subscription: "Subscription", consultation: "Consultation" };

let timers = [];
let objectUrls = [];
window.addEventListener("hashchange", () => {
  for (const timer of timers) clearTimeout(timer);
  for (const url of objectUrls) URL.revokeObjectURL(url);
  timers = [];
  objectUrls = [];
});

function later(work, ms) {
  timers.push(setTimeout(work, ms));
}

async function mySubscription() {
  try {
    return await api.get("/subscriptions/me");
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function entitlementList(entitlements) {
  return h("ul.entitlements", {}, Object.entries(entitlements || {}).map(([key, count]) =>
    h("li", {}, `${count} ${ENTITLEMENTS[key] || words(key)}`)));
}

function subscriptionCard(subscription, plans, reload) {
  if (!subscription) {
    return h("section.card", { "aria-labelledby": "plan-title" }, h("h2", { id: "plan-title" }, "Your plan"),
      empty("No subscription yet.", "Choose a plan below and pay with any Bakong app."));
  }
  const plan = plans.find((p) => p.code === subscription.planId);
  return h("section.card.subscription", { "aria-labelledby": "plan-title", dataset: { status: subscription.status } },
    h("h2", { id: "plan-title" }, "Your plan"),
    h("p", {}, h("strong", {}, plan?.name || subscription.planId), " ", badge(subscription.status)),
    h("dl.meta", {},
      h("dt", {}, subscription.cancelAtPeriodEnd ? "Ends" : "Renews by paying before"), h("dd", {}, when(subscription.periodEnd)),
      subscription.nextPlanId ? [h("dt", {}, "Then"), h("dd", {}, plans.find((p) => p.code === subscription.nextPlanId)?.name || subscription.nextPlanId)] : null,
      h("dt", {}, "Includes"), h("dd", {}, entitlementList(subscription.entitlements))),
    subscription.cancelAtPeriodEnd ? h("p.hint", {}, "Cancelled: it stays until the end of this period.") : h("button.danger", {
      type: "button",
      onclick: async () => {
        if (!(await confirmDialog("Cancel at the end of this period?", "Cancel subscription"))) return;
        try {
          await api.post("/subscriptions/me/cancel");
          announce("Your subscription ends with this period.");
        } catch (error) {
          announce(error.message, "error");
        }
        reload();
      },
    }, "Cancel at period end"));
}

/** Pay for a plan: a new subscription or a renewal is a payment; another plan is a change. */
async function subscribe(plan, currency, subscription) {
  if (subscription && subscription.planId !== plan.code) {
    const changed = await api.post("/subscriptions/me/change", { planId: plan.code, currency });
    if (!changed.payment) {
      announce(`${plan.name} starts at your next renewal.`);
      return null;
    }
    return changed.payment;
  }
  return api.post("/payments", { purpose: "subscription", planId: plan.code, currency });
}

function planCard(plan, prices, subscription) {
  const offers = prices.filter((p) => p.code === plan.code);
  const current = subscription?.planId === plan.code;
  const action = !subscription ? "Subscribe" : current ? "Renew" : "Switch to this plan";
  const currency = h("select", { name: "currency" }, offers.map((p) => h("option", { value: p.currency }, `${money(p.amountMinor, p.currency)} (${p.currency})`)));
  return h("article.card.plan", { "aria-labelledby": `plan-${plan.code}`, dataset: { code: plan.code } },
    h("h3", { id: `plan-${plan.code}` }, plan.name, current ? [" ", badge("current")] : null),
    h("p.price", {}, offers.length ? money(offers[0].amountMinor, offers[0].currency) : "No price yet", h("span.hint", {}, ` for ${plan.periodDays} days`)),
    entitlementList(plan.entitlements),
    offers.length ? submitting(h("form", {},
      offers.length > 1 ? field("Pay in", currency) : null,
      h("button.primary", { type: "submit", "aria-label": `${action}: ${plan.name}` }, action)),
    async () => {
      const payment = await subscribe(plan, offers.length > 1 ? currency.value : offers[0].currency, subscription);
      if (payment) router.go(`/payments/${payment.id}`);
    }) : null);
}

function paymentsTable(items) {
  if (!items.length) return empty("No payments yet.");
  return h("table.files", {},
    h("caption.visually-hidden", {}, "Your payments"),
    h("thead", {}, h("tr", {}, ["Made", "For", "Amount", "Status"].map((c) => h("th", { scope: "col" }, c)), h("th", { scope: "col" }, h("span.visually-hidden", {}, "Actions")))),
    h("tbody", {}, items.map((p) => h("tr", { dataset: { id: p.id } },
      h("td", { "data-label": "Made" }, when(p.createdAt)),
      h("td", { "data-label": "For" }, `${PURPOSES[p.purpose] || p.purpose}`),
      h("td", { "data-label": "Amount" }, money(p.amountMinor, p.currency)),
      h("td", { "data-label": "Status" }, badge(p.status)),
      h("td.actions", {}, h("a.button.secondary", { href: `#/payments/${p.id}`, "aria-label": `Open payment of ${when(p.createdAt).textContent}` },
        p.status === "pending" ? "Pay" : p.status === "completed" || p.status.startsWith("refund") ? "Receipt" : "Details"))))));
}

router.register({
  path: "/payments",
  signedIn: true,
  async render(main) {
    main.append(pageTitle("Payments"));
    const body = h("div", {}, loading());
    main.append(body);
    const patient = session.current().role === "patient";
    let plans, prices, subscription, payments;
    try {
      [plans, prices, subscription, payments] = await Promise.all([
        api.get("/subscriptions/plans"),
        api.get("/payments/prices"),
        patient ? mySubscription() : null,
        api.get("/payments?limit=20"),
      ]);
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const reload = () => router.go("/payments");
    body.replaceChildren(
      patient ? subscriptionCard(subscription, plans.items, reload) : null,
      patient ? h("section", { "aria-labelledby": "plans-title" },
        h("h2", { id: "plans-title" }, "Plans"),
        plans.items.length ? h("div.plans", {}, plans.items.map((plan) => planCard(plan, prices.items, subscription))) : empty("No plans on offer yet.")) : null,
      h("section.card", { "aria-labelledby": "payments-title" }, h("h2", { id: "payments-title" }, "Your payments"), paymentsTable(payments.items)));
  },
});

async function qrImage(paymentId) {
  const url = URL.createObjectURL(await api.download(`/payments/${paymentId}/qr?image=png`));
  objectUrls.push(url);
  return h("img.khqr", { src: url, alt: "KHQR code: scan it with a Bakong app to pay", width: "260", height: "260" });
}

function receiptView(receipt) {
  return h("dl.meta.receipt", {},
    h("dt", {}, "Receipt number"), h("dd", {}, h("code", {}, receipt.receiptNumber)),
    h("dt", {}, "Paid"), h("dd", {}, money(receipt.amountMinor, receipt.currency)),
    receipt.refundedMinor ? [h("dt", {}, "Refunded"), h("dd", {}, money(receipt.refundedMinor, receipt.currency))] : null,
    h("dt", {}, "For"), h("dd", {}, `${PURPOSES[receipt.purpose] || receipt.purpose} (${receipt.reference})`),
    h("dt", {}, "Paid at"), h("dd", {}, when(receipt.paidAt)),
    h("dt", {}, "Bakong transaction"), h("dd", {}, h("code", {}, receipt.transactionHash || "—")));
}

/** After a subscription payment: read the subscription until the activation job changed it. */
function awaitActivation(out, before) {
  const tick = async () => {
    const subscription = await mySubscription().catch(() => before);
    if (subscription && JSON.stringify(subscription) !== JSON.stringify(before)) {
      out.replaceChildren(h("p.alert.ok", {}, "Your plan is active until ", when(subscription.periodEnd), "."));
      return;
    }
    later(tick, ACTIVATION_POLL_MS);
  };
  out.replaceChildren(h("p.state.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), "Starting your plan…"));
  tick();
}

router.register({
  path: "/payments/:id",
  signedIn: true,
  async render(main, { id }) {
    main.append(pageTitle("Payment"), h("p", {}, h("a", { href: "#/payments" }, "← Payments")));
    const body = h("div", {}, loading());
    main.append(body);
    let payment, before;
    try {
      payment = await api.get(`/payments/${id}`);
      before = payment.status === "pending" && payment.purpose === "subscription" ? await mySubscription() : null;
    } catch (error) {
      body.replaceChildren(errorBox(error));
      return;
    }
    const status = h("p.payment-status", { role: "status", "aria-live": "polite" });
    const detail = h("div");
    const card = h("section.card.payment", { "aria-labelledby": "payment-title", dataset: { id } },
      h("h2", { id: "payment-title" }, `${PURPOSES[payment.purpose] || payment.purpose}: ${money(payment.amountMinor, payment.currency)}`),
      status, detail);
    body.replaceChildren(card);

    const show = async (current, previous) => {
      status.replaceChildren("Status: ", badge(current.status));
      if (current.status === previous) return;
      if (current.status === "pending") {
        detail.replaceChildren(
          h("div.qr", {}, await qrImage(id).catch((error) => errorBox(error)),
            h("div", {},
              h("p", {}, "Open your bank's Bakong app, scan this code and confirm the payment of ", h("strong", {}, money(current.amountMinor, current.currency)), "."),
              h("p.hint", {}, "The code works until ", when(current.expiresAt), ". This page updates by itself once the payment arrives."))));
      } else if (current.status === "completed" || current.status.startsWith("refund")) {
        const activation = h("div", { "aria-live": "polite" });
        detail.replaceChildren(h("p.alert.ok", {}, "Paid. Thank you!"), receiptView(await api.get(`/payments/${id}/receipt`)), activation);
        if (current.purpose === "subscription" && previous === "pending") awaitActivation(activation, before);
      } else if (current.status === "expired") {
        detail.replaceChildren(h("p.alert.error", {}, "The code expired before it was paid. Start again from ", h("a", { href: "#/payments" }, "Payments"), "."));
      } else {
        detail.replaceChildren(h("p.alert.error", {}, "This payment did not go through", current.review ? ` (${words(current.review)})` : "", ". An administrator will look into it."));
      }
    };
    await show(payment, null);
    if (payment.status !== "pending") return;
    let last = payment.status;
    const poll = async () => {
      try {
        const now = await api.get(`/payments/${id}`);
        await show(now, last);
        if (now.status !== last) announce(now.status === "completed" ? "Payment received." : `Payment ${now.status}.`);
        last = now.status;
        if (now.status === "pending") later(poll, POLL_MS);
      } catch {
        later(poll, POLL_MS * 2);
      }
    };
    later(poll, POLL_MS);
  },
});
