import * as grpc from "@grpc/grpc-js";

const identity = (value: Buffer): Buffer => value;

/** A raw unary caller: request and response stay bytes, so only the server's work and the transport are timed. */
export interface RawUnary {
  /** One call; resolves with the response bytes and the time it took in ms. */
  call(): Promise<{ bytes: Buffer; ms: number }>;
  close(): void;
}

/** Calls `path` on the insecure server at `address` with an empty request. */
export function rawUnary(address: string, path: string): RawUnary {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    call() {
      const started = performance.now();
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(path, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 10_000 }, (err, bytes) => {
          if (err || !bytes) reject(err ?? new Error(`${path}: no response`));
          else resolve({ bytes, ms: performance.now() - started });
        });
      });
    },
    close() {
      client.close();
    },
  };
}

/** The q-quantile (0..1) of the samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
