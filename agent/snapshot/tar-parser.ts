import { applyPax, BLOCK, decodeBlock, normalizeArchivePath, paddedSize, TarFormatError, type TarHeader } from "./tar-format.ts";

/** What a `TarParser` calls, in archive order. Data slices are only valid during the call. */
export interface TarParserHandler {
  onEntry(header: TarHeader): void;
  onData(data: Uint8Array): void;
  onEntryEnd(): void;
  /** A retired region (PAX global header) of `size` data bytes, skipped. */
  onRetired?(size: number): void;
}

const MAX_PAX_BYTES = 1024 * 1024;

type State = "header" | "pax" | "data" | "pad" | "skip" | "zero2" | "end";

/**
 * Streaming reader of the tar subset Hoist writes (see tar-format.ts). Chunks can split headers and
 * content anywhere. Strict: a bad checksum, an unknown entry type, a missing end marker or
 * non-zero bytes after it throw TarFormatError.
 */
export class TarParser {
  /** Bytes consumed so far (for error messages). */
  offset = 0;
  private state: State = "header";
  private readonly block = new Uint8Array(BLOCK);
  private blockFill = 0;
  private remaining = 0;
  private pad = 0;
  private pax: Uint8Array | undefined;
  private paxFill = 0;
  private pendingPax: Uint8Array | undefined;

  constructor(private readonly handler: TarParserHandler) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const available = chunk.length - at;
      switch (this.state) {
        case "header":
        case "zero2": {
          let block: Uint8Array;
          if (this.blockFill === 0 && available >= BLOCK) {
            block = chunk.subarray(at, at + BLOCK);
            at += BLOCK;
          } else {
            const take = Math.min(BLOCK - this.blockFill, available);
            this.block.set(chunk.subarray(at, at + take), this.blockFill);
            this.blockFill += take;
            at += take;
            if (this.blockFill < BLOCK) break;
            this.blockFill = 0;
            block = this.block;
          }
          this.offset += BLOCK;
          this.onBlock(block);
          break;
        }
        case "pax": {
          const take = Math.min(this.remaining, available);
          this.pax!.set(chunk.subarray(at, at + take), this.paxFill);
          this.paxFill += take;
          this.remaining -= take;
          at += take;
          this.offset += take;
          if (this.remaining === 0) {
            this.pendingPax = this.pax;
            this.pax = undefined;
            this.startPad(false);
          }
          break;
        }
        case "data": {
          const take = Math.min(this.remaining, available);
          this.handler.onData(chunk.subarray(at, at + take));
          this.remaining -= take;
          at += take;
          this.offset += take;
          if (this.remaining === 0) this.startPad(true);
          break;
        }
        case "pad":
        case "skip": {
          const take = Math.min(this.remaining, available);
          if (this.state === "pad") {
            for (let i = at; i < at + take; i++) if (chunk[i] !== 0) throw new TarFormatError(`non-zero padding at byte ${this.offset + i - at}`);
          }
          this.remaining -= take;
          at += take;
          this.offset += take;
          if (this.remaining === 0) {
            if (this.state === "pad") this.finishPad();
            else this.state = "header";
          }
          break;
        }
        case "end": {
          for (let i = at; i < chunk.length; i++) {
            if (chunk[i] !== 0) throw new TarFormatError(`unexpected data after the end of the archive at byte ${this.offset + i - at}`);
          }
          this.offset += available;
          at = chunk.length;
          break;
        }
      }
    }
  }

  /** Call after the last chunk; throws if the archive ended early. */
  end(): void {
    if (this.state !== "end") throw new TarFormatError(`archive is truncated (ended at byte ${this.offset} inside ${this.state === "zero2" ? "the end marker" : "an entry"})`);
  }

  private pendingEntryEnd = false;

  private startPad(entryEnd: boolean): void {
    this.pendingEntryEnd = entryEnd;
    this.remaining = this.pad;
    if (this.remaining === 0) this.finishPad();
    else this.state = "pad";
  }

  private finishPad(): void {
    this.state = "header";
    if (this.pendingEntryEnd) {
      this.pendingEntryEnd = false;
      this.handler.onEntryEnd();
    }
  }

  private onBlock(block: Uint8Array): void {
    const decoded = decodeBlock(block);
    if (this.state === "zero2") {
      if (decoded.kind !== "zero") throw new TarFormatError(`lone zero block before byte ${this.offset}`);
      this.state = "end";
      return;
    }
    if (decoded.kind === "zero") {
      if (this.pendingPax !== undefined) throw new TarFormatError("PAX header without an entry");
      this.state = "zero2";
      return;
    }
    if (decoded.kind === "global") {
      // A retired entry of a two-phase snapshot (tar-format.ts retiredBlock): skipped unread.
      if (this.pendingPax !== undefined) throw new TarFormatError("PAX header before a global header");
      this.handler.onRetired?.(decoded.size);
      this.remaining = paddedSize(decoded.size);
      if (this.remaining > 0) this.state = "skip";
      return;
    }
    if (decoded.kind === "pax") {
      if (this.pendingPax !== undefined) throw new TarFormatError("two PAX headers in a row");
      if (decoded.size > MAX_PAX_BYTES) throw new TarFormatError(`PAX header of ${decoded.size} bytes is too large`);
      this.pax = new Uint8Array(decoded.size);
      this.paxFill = 0;
      this.remaining = decoded.size;
      this.pad = paddedSize(decoded.size) - decoded.size;
      this.state = "pax";
      if (decoded.size === 0) {
        this.pendingPax = this.pax;
        this.startPad(false);
      }
      return;
    }
    let header = decoded.header;
    if (this.pendingPax !== undefined) {
      header = applyPax(header, this.pendingPax);
      this.pendingPax = undefined;
    }
    header.path = normalizeArchivePath(header.path); // a fresh object from decodeBlock or applyPax
    this.handler.onEntry(header);
    this.remaining = header.size;
    this.pad = paddedSize(header.size) - header.size;
    if (header.size === 0) {
      this.state = "header";
      this.handler.onEntryEnd();
    } else {
      this.state = "data";
    }
  }
}
