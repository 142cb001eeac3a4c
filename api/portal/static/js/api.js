// The one way the portal talks to the JSON API: same origin, bearer token from memory,
// problem details turned into readable errors, one silent refresh through the cookie on 401.

const API = "/api/v1";
const COOKIE_MODE = { "X-Refresh-Cookie": "1" };

let accessToken = null; // in memory only: never storage, never a URL
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The server answered ${status}`);
    this.status = status;
    this.code = problem?.code || null;
  }
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

export function setAccessToken(token) {
  accessToken = token;
  for (const listener of listeners) listener(Boolean(token));
}

export function hasAccess() {
  return Boolean(accessToken);
}

export function authHeaders() {
  return accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** Trade the refresh cookie for a new access token; false when there is no session. */
export function refreshAccess() {
  if (!refreshing) {
    refreshing = fetch(`${API}/auth/browser/refresh`, {
      method: "POST",
      headers: COOKIE_MODE,
      credentials: "same-origin",
    })
      .then(async (response) => {
        if (!response.ok) {
          setAccessToken(null);
          return false;
        }
        setAccessToken((await response.json()).accessToken);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** A call to the API; ``body`` is JSON unless it is FormData. Returns the Response. */
export async function call(method, path, { body, headers = {}, retry = true, signal } = {}) {
  const init = { method, headers: { ...headers, ...authHeaders() }, signal };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(`${API}${path}`, init);
  if (response.status === 401 && retry && accessToken && (await refreshAccess())) {
    return call(method, path, { body, headers, retry: false, signal });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

export async function json(method, path, options) {
  const response = await call(method, path, options);
  return response.status === 204 ? null : response.json();
}

export const get = (path, options) => json("GET", path, options);
export const post = (path, body, options = {}) => json("POST", path, { ...options, body });

/** A sign-in call that asks for the refresh token as an HttpOnly cookie. */
export async function signInCall(path, body) {
  const response = await fetch(`${API}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...COOKIE_MODE },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response.json();
}

/** Ends the cookie's session on the server and forgets the access token. */
export async function signOutCall() {
  try {
    await fetch(`${API}/auth/browser/logout`, {
      method: "POST",
      headers: { ...COOKIE_MODE, ...authHeaders() },
      credentials: "same-origin",
    });
  } finally {
    setAccessToken(null);
  }
}

/**
 * A multipart upload with real progress (XMLHttpRequest's upload events).
 * ``onProgress(fraction)``; resolves with the JSON answer, rejects with an ApiError.
 */
export async function upload(path, form, onProgress) {
  try {
    return await uploadOnce(path, form, onProgress);
  } catch (error) {
    if (error.status !== 401 || !(await refreshAccess())) throw error;
    return uploadOnce(path, form, onProgress); // the access token had expired
  }
}

function uploadOnce(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}`);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "The upload was cut off; check your connection and try again." })));
    xhr.send(form);
  });
}

/** The bytes of a download, as a Blob (the token goes in a header, so no plain link). */
export async function download(path) {
  return (await call("GET", path)).blob();
}

/**
 * Server-sent events over fetch (EventSource cannot send a bearer token).
 * Calls ``onEvent({event, data, id})`` for each; resolves when the stream ends.
 */
export async function streamEvents(path, onEvent, signal) {
  const response = await call("GET", path, { headers: { Accept: "text/event-stream" }, signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message = { event: "message", data: "", id: null };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue; // a keep-alive comment
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") message.data += (message.data ? "\n" : "") + text;
        else if (field === "event") message.event = text;
        else if (field === "id") message.id = text;
      }
      if (message.data) onEvent(message);
    }
  }
}

export function accessTokenForSocket() {
  return accessToken;
}
