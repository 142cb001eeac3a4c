// Signing up, verifying the e-mail, signing in (password or e-mailed code, then TOTP when
// the account has it), and resetting a forgotten password.

import * as api from "../api.js";
import * as router from "../router.js";
import * as session from "../session.js";
import { announce, field, h, pageTitle, submitting } from "../ui.js";

// A token from an e-mailed link: read from the address once, then kept here, not in the URL.
let linkToken = null;
const LINK_PAGES = { "/verify-email": "/verify", "/reset-password": "/reset" };

/** The page an e-mailed link opened, with its token taken out of the address bar. */
export function pendingLink() {
  const page = LINK_PAGES[location.pathname];
  if (!page) return null;
  linkToken = new URLSearchParams(location.search).get("token");
  history.replaceState(null, "", "/");
  return page;
}

function input(name, type = "text", attrs = {}) {
  return h("input", { name, type, required: true, ...attrs });
}

function card(title, ...body) {
  return h("section.card.narrow", {}, pageTitle(title), ...body);
}

async function finish(result, main) {
  if (result.mfaToken) {
    renderMfa(main, result.mfaToken);
    return;
  }
  announce("Signed in.");
  router.go("/documents");
}

function passwordForm(main) {
  return submitting(
    h(
      "form",
      { "aria-label": "Sign in with your password" },
      field("E-mail address", input("email", "email", { autocomplete: "username" })),
      field("Password", input("password", "password", { autocomplete: "current-password" })),
      h("button.primary", { type: "submit" }, "Sign in"),
    ),
    async (data) =>
      finish(await session.signInWithPassword(data.get("email"), data.get("password")), main),
  );
}

function codeForm(main) {
  const codeField = field(
    "6-digit code from the e-mail",
    input("code", "text", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", required: false }),
  );
  codeField.hidden = true;
  const button = h("button.primary", { type: "submit" }, "E-mail me a code");
  let sent = false;
  return submitting(
    h("form", { "aria-label": "Sign in with an e-mailed code" },
      field("E-mail address", input("email", "email", { autocomplete: "username" })),
      codeField,
      button),
    async (data) => {
      if (!sent) {
        await api.post("/auth/code/request", { email: data.get("email") });
        sent = true;
        codeField.hidden = false;
        codeField.querySelector("input").required = true;
        codeField.querySelector("input").focus();
        button.textContent = "Sign in";
        announce("If the address has an account, a code is on its way.");
        return;
      }
      finish(await session.signInWithCode(data.get("email"), data.get("code")), main);
    },
  );
}

function renderMfa(main, mfaToken) {
  main.replaceChildren(
    card(
      "Two-step sign-in",
      h("p", {}, "Enter the 6-digit code from your authenticator app."),
      submitting(
        h("form", {},
          field("Authenticator code", input("code", "text", { inputmode: "numeric", autocomplete: "one-time-code" })),
          h("button.primary", { type: "submit" }, "Continue")),
        async (data) => finish(await session.completeMfa(mfaToken, data.get("code")), main),
      ),
    ),
  );
  main.querySelector("input").focus();
}

router.register({
  path: "/signin",
  signedOut: true,
  render(main) {
    const panel = h("div.panel", { role: "tabpanel", id: "signin-panel" });
    const choose = (which) => {
      for (const tab of tabs.querySelectorAll("button")) {
        tab.setAttribute("aria-selected", String(tab.dataset.which === which));
        if (tab.dataset.which === which) panel.setAttribute("aria-labelledby", tab.id);
      }
      panel.replaceChildren(which === "password" ? passwordForm(main) : codeForm(main));
    };
    const tabs = h("div.tabs", { role: "tablist", "aria-label": "How to sign in" },
      h("button", { type: "button", role: "tab", id: "tab-password", "aria-controls": "signin-panel", dataset: { which: "password" }, onclick: () => choose("password") }, "Password"),
      h("button", { type: "button", role: "tab", id: "tab-code", "aria-controls": "signin-panel", dataset: { which: "code" }, onclick: () => choose("code") }, "E-mailed code"));
    main.append(
      card("Sign in", tabs, panel,
        h("p.links", {}, h("a", { href: "#/forgot" }, "Forgot your password?"), " · ",
          h("a", { href: "#/signup" }, "Create an account"))),
    );
    choose("password");
  },
});

router.register({
  path: "/signup",
  signedOut: true,
  render(main) {
    const doctorFields = h("fieldset.doctor", { hidden: true },
      h("legend", {}, "Your practice"),
      field("Specialty", input("specialty", "text", { required: false })),
      field("Licence number", input("licenceNumber", "text", { required: false })),
      field("Consultation fee (cents)", input("consultationFeeCents", "number", { required: false, min: "0", step: "1" })));
    const role = h("select", { name: "role" },
      h("option", { value: "patient" }, "Patient"),
      h("option", { value: "doctor" }, "Doctor"));
    role.addEventListener("change", () => {
      doctorFields.hidden = role.value !== "doctor";
      for (const el of doctorFields.querySelectorAll("input")) el.required = role.value === "doctor";
    });
    const form = submitting(
      h("form", {},
        field("I am a", role),
        field("Full name", input("name", "text", { autocomplete: "name" })),
        field("E-mail address", input("email", "email", { autocomplete: "email" })),
        field("Password", input("password", "password", { autocomplete: "new-password", minlength: "12" }), "At least 12 characters."),
        doctorFields,
        h("button.primary", { type: "submit" }, "Create account")),
      async (data) => {
        const body = { role: data.get("role"), name: data.get("name"), email: data.get("email"), password: data.get("password") };
        if (body.role === "doctor") {
          body.specialty = data.get("specialty");
          body.licenceNumber = data.get("licenceNumber");
          body.consultationFeeCents = Number(data.get("consultationFeeCents"));
        }
        await api.post("/auth/signup", body);
        main.replaceChildren(card("Check your e-mail",
          h("p", { role: "status" }, "We sent a link to confirm your address. Open it to finish signing up.")));
      },
    );
    main.append(card("Create an account", form, h("p.links", {}, h("a", { href: "#/signin" }, "I have an account"))));
  },
});

router.register({
  path: "/verify",
  async render(main) {
    const token = linkToken;
    linkToken = null;
    if (!token) {
      main.append(card("Confirm your e-mail", h("p", {}, "Open the link from the e-mail we sent you.")));
      return;
    }
    try {
      await api.post("/auth/verify-email", { token });
      main.append(card("E-mail confirmed", h("p", { role: "status" }, "Your account is active."),
        h("a.button.primary", { href: "#/signin" }, "Sign in")));
    } catch (error) {
      main.append(card("This link does not work", h("p.alert.error", { role: "alert" }, error.message)));
    }
  },
});

router.register({
  path: "/forgot",
  signedOut: true,
  render(main) {
    main.append(card("Reset your password",
      submitting(
        h("form", {},
          field("E-mail address", input("email", "email", { autocomplete: "email" })),
          h("button.primary", { type: "submit" }, "E-mail me a link")),
        async (data) => {
          await api.post("/auth/password-reset/request", { email: data.get("email") });
          main.replaceChildren(card("Check your e-mail",
            h("p", { role: "status" }, "If the address has an account, a reset link is on its way (valid 30 minutes).")));
        },
      )));
  },
});

router.register({
  path: "/reset",
  render(main) {
    const token = linkToken;
    main.append(card("Choose a new password",
      submitting(
        h("form", {},
          field("New password", input("password", "password", { autocomplete: "new-password", minlength: "12" }), "At least 12 characters."),
          h("button.primary", { type: "submit" }, "Save password")),
        async (data) => {
          if (!token) throw new Error("Open the link from the e-mail we sent you.");
          await api.post("/auth/password-reset/confirm", { token, password: data.get("password") });
          linkToken = null;
          announce("Password changed. Sign in with it.");
          router.go("/signin");
        },
      )));
  },
});
