import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate authority made for one test: its files and where it writes the certs it issues. */
export interface TestCa {
  name: string;
  dir: string;
  certFile: string;
  keyFile: string;
}

/** A certificate and its key, PEM files. */
export interface TestCert {
  certFile: string;
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

/** Makes a self-signed CA (EC P-256, valid one day) with real `openssl` in `dir`. */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return { name, dir, certFile, keyFile };
}

/**
 * Issues a leaf certificate signed by `ca`, usable for both server and client auth.
 * `dns` and `ips` become subjectAltName entries (a server cert for 127.0.0.1 needs IP:127.0.0.1).
 */
export async function issueCert(ca: TestCa, name: string, options: { cn: string; dns?: string[]; ips?: string[] }): Promise<TestCert> {
  const base = join(ca.dir, `${ca.name}-${name}`);
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  const certFile = `${base}.crt`;
  const extFile = `${base}.ext`;
  const san = [...(options.dns ?? []).map((dns) => `DNS:${dns}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
  await writeFile(extFile, ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth,clientAuth", ...(san.length > 0 ? [`subjectAltName=${san.join(",")}`] : [])].join("\n"));
  await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", csrFile, "-subj", `/CN=${options.cn}`], ca.dir);
  await openssl(
    // A random serial instead of -CAcreateserial: concurrent issues would race on the .srl file.
    ["x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-out", certFile, "-days", "1", "-extfile", extFile],
    ca.dir,
  );
  return { certFile, keyFile };
}
