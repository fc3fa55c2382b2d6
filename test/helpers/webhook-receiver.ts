import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** How one path of the receiver answers: 200; 500 to every other request (1st, 3rd, ...); never. */
export type ReceiverBehaviour = "ok" | "fail-every-other" | "hang" | "bad-request";

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  body: unknown;
  status: number | "hung";
}

export interface WebhookReceiver {
  /** The URL of `path` on this receiver. */
  url(path: string): string;
  /** Every POST so far, in arrival order. */
  posts: ReceivedPost[];
  /** The bodies answered 2xx on `path`, in order. */
  delivered(path: string): unknown[];
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1:0 that records webhook POSTs and answers per path as told. */
export async function startWebhookReceiver(behaviours: Record<string, ReceiverBehaviour>): Promise<WebhookReceiver> {
  const posts: ReceivedPost[] = [];
  const counts = new Map<string, number>();
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "/";
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text: the test sees what arrived
      }
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      const behaviour = behaviours[path] ?? "ok";
      const status = behaviour === "hang" ? "hung" : behaviour === "bad-request" ? 400 : behaviour === "fail-every-other" && count % 2 === 1 ? 500 : 200;
      posts.push({ path, contentType: request.headers["content-type"], body, status });
      if (status === "hung") return;
      response.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no");
    });
  };
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    posts,
    delivered: (path) => posts.filter((post) => post.path === path && post.status === 200).map((post) => post.body),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
