import { writeSync } from "node:fs";

/**
 * Bytes per write(2) call when the snapshot worker writes archives and restored files. Measured on
 * the bench machine (Linux 6.18 ext4, bench/README.md): writing 256 MiB of new page cache in 4 MiB
 * calls cost 0.3-0.5 CPU-s, in 128 KiB calls 0.06 CPU-s (as `cat` and GNU tar, which write 10-128 KiB
 * at a time) — larger writes get large page-cache folios, whose fresh memory is slow to fault in on
 * that VM. The extra calls cost nothing measurable (8 per MiB).
 */
export const WRITE_PIECE_BYTES = 128 * 1024;

/** Writes `length` bytes of `data` at `position` (or at the file position when null), in pieces of WRITE_PIECE_BYTES. */
export function writeAll(fd: number, data: Uint8Array, position: number | null, length = data.length): void {
  let done = 0;
  while (done < length) {
    const piece = Math.min(WRITE_PIECE_BYTES, length - done);
    done += writeSync(fd, data, done, piece, position === null ? null : position + done);
  }
}
