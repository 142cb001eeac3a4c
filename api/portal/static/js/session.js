// Who is signed in: the access token (api.js keeps it in memory), the account from /me,
// and the ways in and out. A reload restores the session through the refresh cookie.

import * as api from "./api.js";

let account = null;
const watchers = new Set();

export function current() {
  return account;
}

export function onChange(watcher) {
  watchers.add(watcher);
}

function changed() {
  for (const watcher of watchers) watcher(account);
}

async function loadAccount() {
  account = await api.get("/me");
  changed();
  return account;
}

/** After a sign-in call: tokens (signed in) or an MFA challenge ({mfaToken}). */
async function afterSignIn(answer) {
  if (answer.mfaRequired) return { mfaToken: answer.mfaToken };
  api.setAccessToken(answer.accessToken);
  await loadAccount();
  return { signedIn: true };
}

export const signInWithPassword = (email, password) =>
  api.signInCall("/auth/login", { email, password }).then(afterSignIn);

export const signInWithCode = (email, code) =>
  api.signInCall("/auth/code/verify", { email, code }).then(afterSignIn);

export const completeMfa = (mfaToken, code) =>
  api.signInCall("/auth/mfa", { mfaToken, code }).then(afterSignIn);

export async function signOut() {
  await api.signOutCall();
  account = null;
  changed();
}

/** On page load: a refresh cookie from an earlier visit signs the user back in. */
export async function restore() {
  if (await api.refreshAccess()) {
    try {
      return await loadAccount();
    } catch {
      account = null;
    }
  }
  return null;
}

api.onSessionChange((signedIn) => {
  if (!signedIn && account) {
    account = null;
    changed();
  }
});
