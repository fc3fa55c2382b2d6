/**
 * The tar format Hoist snapshots are written in: POSIX ustar headers, with a PAX extended header
 * in front of an entry only when a field does not fit (long path or link target, size >= 8 GiB,
 * large ids, out-of-range mtime). GNU tar and bsdtar read these archives as they are, so an
 * operator can always fall back to `tar xf data-0.tar`.
 *
 * Only the entry types a snapshot contains are written or accepted: regular file, directory,
 * symlink, hard link (and the PAX header that may precede them), plus the PAX global header holding
 * only a `comment` record that a two-phase snapshot writes over an entry it retired (readers ignore
 * comments, so the retired bytes are skipped; see docs/snapshots.md).
 */

export const BLOCK = 512;

/** Entry types of a snapshot archive; a hardlink names an earlier file of the same archive as its target. */
export type TarEntryType = "file" | "dir" | "symlink" | "hardlink";

export interface TarHeader {
  /** Path relative to the data dir, without "./" or a trailing "/"; "." is the data dir itself. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky (0..0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes (0 for dirs and symlinks). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target, or the path of the file a hardlink links to. */
  target?: string;
}

const TYPE_FLAG: Record<TarEntryType, number> = { file: 0x30, dir: 0x35, symlink: 0x32, hardlink: 0x31 };
const PAX_FLAG = 0x78; // 'x'
const GLOBAL_FLAG = 0x67; // 'g'
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

/** The bytes needed to store `size` content bytes: rounded up to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = new Uint8Array(BLOCK * 2);

/** Bytes `encodeHeader` will produce for this entry (512, or more with a PAX header). */
export function headerSize(header: TarHeader): number {
  const pax = paxRecords(header);
  return pax === undefined ? BLOCK : BLOCK * 2 + paddedSize(pax.length);
}

/**
 * Writes the header (and a PAX header before it when needed) into `out` at `offset`.
 * `out` must hold `headerSize(header)` bytes from `offset`, zero-filled. Returns the bytes written.
 */
export function encodeHeader(header: TarHeader, out: Uint8Array, offset: number): number {
  const pax = paxRecords(header);
  let at = offset;
  const name = header.type === "dir" ? (header.path === "." ? "./" : `${header.path}/`) : header.path;
  if (pax !== undefined) {
    writeBlock(out, at, {
      name: "PaxHeader",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: pax.length,
      mtime: 0,
      typeflag: PAX_FLAG,
      linkname: "",
    });
    at += BLOCK;
    out.set(pax, at);
    at += paddedSize(pax.length);
  }
  writeBlock(out, at, {
    name: fits(name, 100) ? name : truncate(name, 100),
    mode: header.mode,
    uid: header.uid <= MAX_OCTAL_7 ? header.uid : 0,
    gid: header.gid <= MAX_OCTAL_7 ? header.gid : 0,
    size: header.size <= MAX_OCTAL_11 ? header.size : 0,
    mtime: header.mtime >= 0 && header.mtime <= MAX_OCTAL_11 ? header.mtime : 0,
    typeflag: TYPE_FLAG[header.type],
    linkname: header.target === undefined ? "" : fits(header.target, 100) ? header.target : truncate(header.target, 100),
  });
  return at + BLOCK - offset;
}

/** PAX records for the fields that do not fit the ustar header, or undefined when all fit. */
function paxRecords(header: TarHeader): Buffer | undefined {
  // Fast path (most entries): short ASCII-length names, small numbers; no strings built.
  const nameLength = header.path.length + (header.type === "dir" ? 1 : 0);
  if (nameLength <= 33 && (header.target === undefined || header.target.length <= 33) && header.size <= MAX_OCTAL_11 && header.uid <= MAX_OCTAL_7 && header.gid <= MAX_OCTAL_7 && header.mtime >= 0 && header.mtime <= MAX_OCTAL_11) {
    return undefined; // 33 UTF-16 units are at most 99 UTF-8 bytes
  }
  const records: string[] = [];
  const name = header.type === "dir" ? `${header.path}/` : header.path;
  if (!fits(name, 100)) records.push(paxRecord("path", name));
  if (header.target !== undefined && !fits(header.target, 100)) records.push(paxRecord("linkpath", header.target));
  if (header.size > MAX_OCTAL_11) records.push(paxRecord("size", String(header.size)));
  if (header.uid > MAX_OCTAL_7) records.push(paxRecord("uid", String(header.uid)));
  if (header.gid > MAX_OCTAL_7) records.push(paxRecord("gid", String(header.gid)));
  if (header.mtime < 0 || header.mtime > MAX_OCTAL_11) records.push(paxRecord("mtime", String(header.mtime)));
  return records.length === 0 ? undefined : Buffer.from(records.join(""), "utf8");
}

/** One "LEN key=value\n" record; LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  const digits = String(bodyBytes).length;
  let length = bodyBytes + digits;
  if (String(length).length > digits) length += 1;
  return `${length}${body}`;
}

function fits(value: string, max: number): boolean {
  return value.length <= max && Buffer.byteLength(value) <= max;
}

/** A stand-in for a field the PAX header overrides: the first bytes, cut on a character boundary. */
function truncate(value: string, max: number): string {
  let out = value.slice(0, max);
  while (Buffer.byteLength(out) > max) out = out.slice(0, -1);
  return out;
}

interface RawFields {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: number;
  linkname: string;
}

/** Writes one header block into zero-filled `out` at `at`; the checksum is summed from the fields as they are written. */
function writeBlock(out: Uint8Array, at: number, fields: RawFields): void {
  let sum = 8 * 0x20; // the checksum field counts as eight spaces
  sum += writeString(out, at, 100, fields.name);
  sum += writeOctal(out, at + 100, 8, fields.mode);
  sum += writeOctal(out, at + 108, 8, fields.uid);
  sum += writeOctal(out, at + 116, 8, fields.gid);
  sum += writeOctal(out, at + 124, 12, fields.size);
  sum += writeOctal(out, at + 136, 12, fields.mtime);
  out[at + 156] = fields.typeflag;
  sum += fields.typeflag;
  sum += writeString(out, at + 157, 100, fields.linkname);
  sum += writeString(out, at + 257, 6, "ustar");
  sum += writeString(out, at + 263, 2, "00");
  writeOctal(out, at + 148, 7, sum); // six digits and NUL
  out[at + 155] = 0x20;
}

const encoder = new TextEncoder();

/** Writes `value` (cut to `length` bytes) and returns the sum of the bytes written. */
function writeString(out: Uint8Array, at: number, length: number, value: string): number {
  let ascii = value.length <= length;
  for (let i = 0; ascii && i < value.length; i++) ascii = value.charCodeAt(i) < 0x80;
  let sum = 0;
  if (ascii) {
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      out[at + i] = code;
      sum += code;
    }
    return sum;
  }
  const { written } = encoder.encodeInto(value, out.subarray(at, at + length));
  for (let i = at; i < at + written; i++) sum += out[i]!;
  return sum;
}

/**
 * `length - 1` octal digits, zero-padded, then NUL (written digit by digit: no strings for the
 * common case); returns the sum of the bytes written.
 */
function writeOctal(out: Uint8Array, at: number, length: number, value: number): number {
  let rest = value;
  let sum = 0;
  for (let i = length - 2; i >= 0; i--) {
    const digit = 0x30 + (rest % 8);
    out[at + i] = digit;
    sum += digit;
    rest = Math.floor(rest / 8);
  }
  out[at + length - 1] = 0;
  return sum;
}

/**
 * The header and record start that turn `length` archive bytes (a multiple of 512, at least one
 * block: a retired entry's header and content) into one PAX global header whose only record is a
 * `comment` spanning the rest, so tar readers skip them. Write `header` at the start, `prefix` right
 * after it and a newline as the very last byte (when length > 512); the bytes between stay as they are.
 */
export function retiredBlock(length: number): { header: Uint8Array; prefix: Uint8Array } {
  const header = new Uint8Array(BLOCK);
  const size = length - BLOCK;
  writeBlock(header, 0, { name: "hoist-retired", mode: 0o644, uid: 0, gid: 0, size, mtime: 0, typeflag: GLOBAL_FLAG, linkname: "" });
  return { header, prefix: size === 0 ? new Uint8Array(0) : Buffer.from(`${size} comment=`, "latin1") };
}

/** Why a header could not be read; the caller turns it into SNAPSHOT_CORRUPT. */
export class TarFormatError extends Error {
  override name = "TarFormatError";
}

/** Result of reading one 512-byte block. */
export type DecodedBlock = { kind: "zero" } | { kind: "pax"; size: number } | { kind: "global"; size: number } | { kind: "entry"; header: TarHeader };

/**
 * Reads one header block. PAX overrides are applied by the caller with `applyPax`.
 * Throws TarFormatError on a bad checksum, a bad field or an entry type a snapshot never contains.
 */
export function decodeBlock(block: Uint8Array): DecodedBlock {
  // One pass for the zero test and the checksum (the checksum field counts as eight spaces).
  const sum0 = byteSum(block);
  if (sum0 === 0) return ZERO_BLOCK;
  let sum = sum0;
  for (let i = 148; i < 156; i++) sum -= block[i]!;
  sum += 8 * 0x20;
  const stored = readOctal(block, 148, 8, "checksum");
  if (stored !== sum) throw new TarFormatError("header checksum mismatch");
  if (block[257] !== 0x75 || block[258] !== 0x73 || block[259] !== 0x74 || block[260] !== 0x61 || block[261] !== 0x72) throw new TarFormatError("not a ustar header"); // "ustar"
  const typeflag = block[156]!;
  const size = readOctal(block, 124, 12, "size");
  if (typeflag === PAX_FLAG) return { kind: "pax", size };
  if (typeflag === GLOBAL_FLAG) return { kind: "global", size };
  const type = typeflag === 0x30 || typeflag === 0 ? "file" : typeflag === 0x35 ? "dir" : typeflag === 0x32 ? "symlink" : typeflag === 0x31 ? "hardlink" : undefined;
  if (type === undefined) throw new TarFormatError(`entry type ${JSON.stringify(String.fromCharCode(typeflag))} is not allowed in a snapshot`);
  const rawName = readString(block, 0, 100);
  const name = block[345] === 0 ? rawName : `${readString(block, 345, 155)}/${rawName}`;
  return {
    kind: "entry",
    header: {
      path: name,
      type,
      mode: readOctal(block, 100, 8, "mode") & 0o7777,
      uid: readOctal(block, 108, 8, "uid"),
      gid: readOctal(block, 116, 8, "gid"),
      size: type === "file" ? size : 0,
      mtime: readOctal(block, 136, 12, "mtime"),
      target: type === "symlink" || type === "hardlink" ? readString(block, 157, 100) : undefined,
    },
  };
}

const ZERO_BLOCK: DecodedBlock = Object.freeze({ kind: "zero" });

/**
 * The sum of a block's 512 bytes. An aligned block is read as 32-bit words, two bytes summed per
 * 16-bit lane at a time (a header is decoded for every entry; 4x fewer steps than byte by byte).
 */
function byteSum(block: Uint8Array): number {
  if (block.byteOffset % 4 !== 0) {
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += block[i]!;
    return sum;
  }
  const words = new Uint32Array(block.buffer, block.byteOffset, BLOCK / 4);
  // Each lane gathers at most 2 * 128 * 255 < 65536: no carry between lanes.
  let lanes = 0;
  for (let i = 0; i < BLOCK / 4; i++) {
    const word = words[i]!;
    lanes += (word & 0x00ff00ff) + ((word >>> 8) & 0x00ff00ff);
  }
  return (lanes & 0xffff) + (lanes >>> 16);
}

/** Parses PAX records and applies the ones Hoist writes (path, linkpath, size, uid, gid, mtime). */
export function applyPax(header: TarHeader, pax: Uint8Array): TarHeader {
  const bytes = Buffer.from(pax.buffer, pax.byteOffset, pax.byteLength);
  const out = { ...header };
  let at = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    const space = bytes.indexOf(0x20, at);
    const length = Number(bytes.subarray(at, space).toString("latin1"));
    if (space < 0 || !Number.isInteger(length) || length <= space - at || at + length > bytes.length || bytes[at + length - 1] !== 0x0a) {
      throw new TarFormatError("bad PAX record");
    }
    const body = bytes.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = body.indexOf("=");
    const key = body.slice(0, eq);
    const value = body.slice(eq + 1);
    if (key === "path") out.path = value;
    else if (key === "linkpath") out.target = value;
    else if (key === "size") out.size = toInteger(value, "size");
    else if (key === "uid") out.uid = toInteger(value, "uid");
    else if (key === "gid") out.gid = toInteger(value, "gid");
    else if (key === "mtime") out.mtime = Math.floor(Number(value));
    at += length;
  }
  return out;
}

function toInteger(value: string, field: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new TarFormatError(`bad PAX ${field}`);
  return number;
}

function readString(block: Uint8Array, at: number, length: number): string {
  let end = at;
  while (end < at + length && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + at, end - at).toString("utf8");
}

/**
 * An octal field: digits up to the first NUL, surrounding whitespace allowed, empty is 0. Read
 * byte by byte (headers are decoded once per entry: no strings, no regex).
 */
function readOctal(block: Uint8Array, at: number, length: number, field: string): number {
  let end = at;
  while (end < at + length && block[end] !== 0) end++;
  let start = at;
  while (start < end && isSpace(block[start]!)) start++;
  while (end > start && isSpace(block[end - 1]!)) end--;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = block[i]! - 0x30;
    if (digit < 0 || digit > 7) throw new TarFormatError(`bad ${field} field`);
    value = value * 8 + digit;
  }
  return value;
}

/** Space, tab, LF, VT, FF, CR. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/** Normalizes an archive name to a manifest path: strips "./" and the trailing "/" of dirs. */
export function normalizeArchivePath(name: string): string {
  let path = name;
  while (path.startsWith("./")) path = path.slice(2);
  while (path.endsWith("/")) path = path.slice(0, -1);
  return path === "" ? "." : path;
}
