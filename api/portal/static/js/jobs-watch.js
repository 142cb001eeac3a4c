// Following one job live through its server-sent events, until a final status.

import * as api from "./api.js";

export const FINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Calls ``onStatus(change)`` for every status change; resolves with the final job. */
export async function follow(jobId, onStatus, signal) {
  let last = null;
  try {
    await api.streamEvents(
      `/jobs/${jobId}/events`,
      (message) => {
        if (message.event !== "status") return;
        last = JSON.parse(message.data);
        onStatus(last);
      },
      signal,
    );
  } catch (error) {
    if (signal?.aborted) return null;
    throw error;
  }
  return api.get(`/jobs/${jobId}`);
}
