// Records are encrypted in the browser before upload: the API stores the bytes it is given
// and never sees a key. Format "HPR1" | salt (16) | iv (12) | AES-256-GCM ciphertext, the key
// derived from the passphrase the user chooses (PBKDF2-SHA256, 310,000 rounds).

const MAGIC = new TextEncoder().encode("HPR1");
const ROUNDS = 310000;

async function keyFor(passphrase, salt) {
  const material = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: ROUNDS },
    material, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

export async function encrypt(file, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await keyFor(passphrase, salt);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, await file.arrayBuffer());
  return new Blob([MAGIC, salt, iv, new Uint8Array(sealed)], { type: "application/octet-stream" });
}

export async function decrypt(blob, passphrase) {
  const data = new Uint8Array(await blob.arrayBuffer());
  if (new TextDecoder().decode(data.slice(0, 4)) !== "HPR1") {
    throw new Error("This record was not encrypted by the portal; download it as it is.");
  }
  const key = await keyFor(passphrase, data.slice(4, 20));
  try {
    return new Blob([await crypto.subtle.decrypt({ name: "AES-GCM", iv: data.slice(20, 32) }, key, data.slice(32))]);
  } catch {
    throw new Error("That passphrase does not open this record.");
  }
}
