import { setTimeout as sleep } from "node:timers/promises";

export interface PostResult {
  ok: boolean;
  attempts: number;
  /** HTTP status of the last answer, if there was one. */
  status?: number;
  /** Why the last attempt failed (never the URL: it is a secret). */
  error?: string;
}

export interface PostOptions {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  signal?: AbortSignal;
}

/** Statuses worth another try: the receiver is overloaded or broken for now. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

async function postOnce(url: string, body: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<{ status?: number; error?: string }> {
  const controller = new AbortController();
  // A plain timer, not AbortSignal.timeout inside AbortSignal.any (nodejs/node#57736 can lose it).
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: controller.signal, redirect: "error" });
    // Read the answer so the connection is released (the body itself is of no interest).
    await response.arrayBuffer();
    return { status: response.status };
  } catch (err) {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
    return { error: reason instanceof Error ? reason.message : String(reason) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * POSTs `body` as JSON to `url`, retrying network errors, timeouts, 408, 429 and 5xx up to
 * `retries` more times with a doubling delay. Never throws: the result says how it went, so an
 * announcement that cannot be delivered never fails anything else. Each attempt is bounded by
 * `timeoutMs`; aborting `signal` ends the attempt in flight and gives up.
 */
export async function postWebhook(url: string, body: unknown, options: PostOptions): Promise<PostResult> {
  const text = JSON.stringify(body);
  let last: { status?: number; error?: string } = {};
  for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
    last = await postOnce(url, text, options.timeoutMs, options.signal);
    if (last.status !== undefined && last.status >= 200 && last.status < 300) return { ok: true, attempts: attempt, status: last.status };
    const retryable = last.status === undefined || retryableStatus(last.status);
    if (!retryable || options.signal?.aborted || attempt > options.retries) {
      return { ok: false, attempts: attempt, ...last, ...(last.error === undefined ? { error: `answered HTTP ${last.status}` } : {}) };
    }
    try {
      await sleep(options.retryDelayMs * 2 ** (attempt - 1), undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      return { ok: false, attempts: attempt, ...last, error: "stopped while waiting to retry" };
    }
  }
  return { ok: false, attempts: options.retries + 1, ...last };
}
