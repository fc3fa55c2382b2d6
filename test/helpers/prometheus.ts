import { request } from "node:http";

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** What a scrape returned: every sample, and the `# TYPE` of each metric family. */
export interface Scrape {
  samples: Sample[];
  types: Record<string, string>;
  /** Samples named `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** The value of the one sample named `name` with `labels` (undefined when there is none; throws when several match). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4): `# HELP`/`# TYPE` comments, samples
 * `name{label="value",...} value [timestamp]` with `\\`, `\"` and `\n` escapes in label values.
 * @throws Error on a line that is not the format.
 */
export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types[type[1]!] = type[2]!;
      continue;
    }
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!head) throw new Error(`not a sample line: ${line}`);
    const name = head[1]!;
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
        if (!label) throw new Error(`bad labels in: ${line}`);
        labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));
        rest = rest.slice(label[0].length);
      }
      rest = rest.slice(1);
    }
    const value = /^ (\S+)(?: -?\d+)?$/.exec(rest);
    if (!value) throw new Error(`bad value in: ${line}`);
    samples.push({ name, labels, value: Number(value[1]) });
  }
  const matches = (sample: Sample, name: string, labels: Record<string, string>) => sample.name === name && Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected);
  return {
    samples,
    types,
    find: (name, labels = {}) => samples.filter((sample) => matches(sample, name, labels)),
    value(name, labels = {}) {
      const found = samples.filter((sample) => matches(sample, name, labels));
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}

/** GETs http://ADDRESS/metrics and parses it; rejects on a status other than 200 or a wrong content type. */
export function scrape(address: string): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const call = request(`http://${address}/metrics`, { timeout: 10_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        if (response.statusCode !== 200) reject(new Error(`GET ${address}/metrics: ${response.statusCode} ${body}`));
        else if (!String(response.headers["content-type"]).startsWith("text/plain; version=0.0.4")) reject(new Error(`unexpected content type ${response.headers["content-type"]}`));
        else {
          try {
            resolve(parsePrometheusText(body));
          } catch (err) {
            reject(err);
          }
        }
      });
    });
    call.on("timeout", () => call.destroy(new Error(`GET ${address}/metrics timed out`)));
    call.on("error", reject);
    call.end();
  });
}
