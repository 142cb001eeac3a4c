// Connections between patients and doctors: ask a doctor, accept an invitation, answer
// requests (doctors), invite (doctors), end a connection.

import * as api from "../api.js";
import * as router from "../router.js";
import * as session from "../session.js";
import { announce, badge, empty, errorBox, field, h, loading, pageTitle, submitting, when } from "../ui.js";

async function counterpartNames(connections, role) {
  const names = new Map();
  if (role === "patient") {
    const doctors = await api.get("/doctors?limit=100");
    for (const doctor of doctors.items) names.set(doctor.id, doctor.name);
  } else {
    await Promise.all(connections.filter((c) => c.status === "active" && c.patientId).map(async (c) => {
      try {
        names.set(c.patientId, (await api.get(`/patients/${c.patientId}`)).name);
      } catch {
        // shown by id
      }
    }));
  }
  return names;
}

function action(label, path, style = "secondary") {
  return h(`button.${style}`, {
    type: "button",
    onclick: async () => {
      try {
        await api.post(path);
        announce(`${label}: done.`);
        router.go("/connections");
      } catch (error) {
        announce(error.message, "error");
      }
    },
  }, label);
}

router.register({
  path: "/connections",
  signedIn: true,
  async render(main) {
    const role = session.current().role;
    main.append(pageTitle("Connections"));
    const listCard = h("section.card", {}, loading());
    const tools = h("section.card", { "aria-labelledby": "connect-title" }, h("h2", { id: "connect-title" }, role === "patient" ? "Connect with a doctor" : "Invite a patient"));
    main.append(tools, listCard);
    if (role === "patient") {
      const doctors = await api.get("/doctors?limit=100").catch(() => ({ items: [] }));
      tools.append(
        submitting(h("form.inline", {},
          field("Doctor", h("select", { name: "doctorId", required: true },
            doctors.items.map((d) => h("option", { value: d.id }, `${d.name}${d.specialty ? ` (${d.specialty})` : ""}`)))),
          h("button.primary", { type: "submit" }, "Ask to connect")),
        async (data) => {
          await api.post("/connections", { doctorId: data.get("doctorId") });
          announce("Request sent.");
          router.go("/connections");
        }),
        submitting(h("form.inline", {},
          field("Invitation code from your doctor", h("input", { name: "token", required: true, autocomplete: "off" })),
          h("button.secondary", { type: "submit" }, "Accept invitation")),
        async (data) => {
          await api.post("/connections/invitations/accept", { token: data.get("token") });
          announce("Connected.");
          router.go("/connections");
        }));
    } else if (role === "doctor") {
      const out = h("div", { "aria-live": "polite" });
      tools.append(h("button.primary", {
        type: "button",
        onclick: async () => {
          const invitation = await api.post("/connections/invitations");
          out.replaceChildren(h("p", {}, "Give this one-time code to your patient: ", h("code.token", {}, invitation.token)));
        },
      }, "Create an invitation code"), out);
    }
    try {
      const connections = (await api.get("/connections?limit=100")).items;
      const names = await counterpartNames(connections, role);
      if (!connections.length) {
        listCard.replaceChildren(empty("No connections yet."));
        return;
      }
      listCard.replaceChildren(h("h2", {}, "Yours"), h("table.files", {},
        h("thead", {}, h("tr", {}, [role === "patient" ? "Doctor" : "Patient", "Status", "Since", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, connections.map((c) => {
          const other = role === "patient" ? c.doctorId : c.patientId;
          const waitingForMe = c.status === "pending" && ((role === "doctor") === (c.initiatedBy === "patient"));
          return h("tr", {},
            h("td", { "data-label": "With" }, names.get(other) || (other ? `#${other.slice(0, 8)}` : "invitation")),
            h("td", { "data-label": "Status" }, badge(c.status)),
            h("td", { "data-label": "Since" }, when(c.createdAt)),
            h("td.actions", {},
              waitingForMe ? [action("Accept", `/connections/${c.id}/accept`, "primary"), action("Reject", `/connections/${c.id}/reject`)] : null,
              c.status === "active" || c.status === "pending" ? action(c.status === "active" ? "End" : "Withdraw", `/connections/${c.id}/revoke`, "danger") : null));
        }))));
    } catch (error) {
      listCard.replaceChildren(errorBox(error));
    }
  },
});
