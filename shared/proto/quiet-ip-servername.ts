/**
 * grpc-js sets the TLS ServerName (SNI) to the target's host even when that host is an IP address
 * (grpc/grpc-node#1919), and Node then prints DEP0123 ("Setting the TLS ServerName to an IP address
 * is not permitted by RFC 6066") on stderr, once per process: a warning about grpc-js's internals
 * that a user cannot act on; the agent's certificate is still checked against the IP. This drops
 * that one warning and lets every other warning through. Idempotent.
 */
export function quietIpServerNameWarning(): void {
  if (installed) return;
  installed = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const warningCode = typeof typeOrOptions === "object" && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
    if (warningCode === "DEP0123") return;
    emitWarning(...args);
  };
}

let installed = false;
