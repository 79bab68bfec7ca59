/**
 * Framing of a watch stream: bytes in, complete non-empty JSON lines out. Decoded as a stream, so
 * a multi-byte UTF-8 character split across two chunks arrives whole.
 */
import { StringDecoder } from "node:string_decoder";

/** Splits a watch response body into lines, one chunk at a time. */
export class WatchLines {
  private readonly decoder = new StringDecoder("utf8");
  private buffered = "";

  /** The lines completed by `chunk` (trimmed, empty ones dropped). */
  push(chunk: Buffer): string[] {
    this.buffered += this.decoder.write(chunk);
    const lines: string[] = [];
    let nl: number;
    while ((nl = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line !== "") lines.push(line);
    }
    return lines;
  }
}
