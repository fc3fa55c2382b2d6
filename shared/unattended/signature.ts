import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { HoistError } from "../errors/index.ts";

/** An ed25519 signature of a document's exact text, and the id of the key that made it. */
export interface TextSignature {
  keyId: string;
  /** base64 */
  value: string;
}

/** A public key's id: the first 16 hex digits of the sha256 of its SPKI (DER) bytes. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/**
 * Reads an ed25519 key from a PEM file.
 * @throws HoistError CONFIG_INVALID when it is unreadable or not an ed25519 key.
 */
export async function loadKey(path: string, type: "private" | "public"): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `cannot read the ${type} key ${path}: ${(err as Error).message}`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = type === "private" ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (err) {
    throw new HoistError("CONFIG_INVALID", `${path} is not a PEM ${type} key: ${(err as Error).message}`, { cause: err });
  }
  if (key.asymmetricKeyType !== "ed25519") throw new HoistError("CONFIG_INVALID", `${path} is a ${key.asymmetricKeyType ?? "unknown"} key; Hoist signs with ed25519 (openssl genpkey -algorithm ed25519)`);
  return key;
}

/** Signs `text` (its UTF-8 bytes) with an ed25519 private key. */
export function signText(text: string, privateKey: KeyObject): TextSignature {
  return { keyId: keyIdOf(privateKey), value: sign(null, Buffer.from(text, "utf8"), privateKey).toString("base64") };
}

/**
 * Checks that `text` carries a valid signature by one of `publicKeys`. With no keys configured every
 * text is accepted (signing is opt-in per agent).
 * @throws HoistError SIGNATURE_INVALID naming what was wrong (unsigned, unknown key, bad signature).
 */
export function verifyText(what: string, text: string, signature: TextSignature | undefined, publicKeys: readonly KeyObject[]): void {
  if (publicKeys.length === 0) return;
  const known = publicKeys.map((key) => ({ key, id: keyIdOf(key) }));
  if (!signature) {
    throw new HoistError(
      "SIGNATURE_INVALID",
      `${what} is not signed, and this agent only accepts ${what}s signed by key ${known.map((key) => key.id).join(" or ")}; sign it (--sign-key) or remove unattended.publicKeys from the agent config`,
    );
  }
  const key = known.find((candidate) => candidate.id === signature.keyId);
  if (!key) {
    throw new HoistError("SIGNATURE_INVALID", `${what} is signed by key ${signature.keyId}, which this agent does not trust (trusted: ${known.map((entry) => entry.id).join(", ")})`);
  }
  if (!verify(null, Buffer.from(text, "utf8"), key.key, Buffer.from(signature.value, "base64"))) {
    throw new HoistError("SIGNATURE_INVALID", `${what} has a signature by key ${signature.keyId} that does not match its content: it was changed after signing, or signed wrongly`);
  }
}
