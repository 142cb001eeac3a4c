// Live notices over the WebSocket: the first message carries the token (never the URL).
// Keeps the unread count for the header and tells listeners about each new notice.

import * as api from "./api.js";

let socket = null;
let lastEventId = null;
let unread = 0;
let stopped = true;
const listeners = new Set();

export function onNotice(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function unreadCount() {
  return unread;
}

export function setUnread(count) {
  unread = Math.max(0, count);
  for (const listener of listeners) listener({ unread });
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/v1/notifications/live`);
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ type: "auth", token: api.accessTokenForSocket(), lastEventId }));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (!message.notice) return;
    lastEventId = message.eventId;
    if (!message.notice.readAt) unread += 1;
    for (const listener of listeners) listener({ unread, notice: message.notice });
  });
  socket.addEventListener("close", async (event) => {
    socket = null;
    if (stopped) return;
    if (event.code === 4401 && !(await api.refreshAccess())) return;
    if (event.code === 4403) return;
    setTimeout(() => !stopped && connect(), 2000);
  });
}

export async function start() {
  stopped = false;
  try {
    setUnread((await api.get("/notifications/unread-count")).unread);
    const newest = await api.get("/notifications?limit=1");
    lastEventId = newest.items[0]?.eventId ?? null;
  } catch {
    // the count shows once the socket delivers
  }
  if (!socket) connect();
}

export function stop() {
  stopped = true;
  lastEventId = null;
  if (socket) socket.close(1000);
  socket = null;
}
