// JSON-RPC over a byte stream with LSP's base protocol framing: each message is a header block
// (`Content-Length: N`, optionally `Content-Type`, each line ended by CRLF), an empty line, and N
// bytes of UTF-8 JSON. Streams deliver bytes in arbitrary chunks, so the decoder buffers until a
// whole message is there and may return several messages from one chunk.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER_END = [13, 10, 13, 10]; // \r\n\r\n

/** What one frame held: the JSON text of a message, or why the frame was dropped. */
export type Frame = { text: string } | { error: string };

/** Splits a byte stream into framed messages. */
export class FrameDecoder {
  #buffer = new Uint8Array(0);

  /** Add a chunk; returns every frame now complete, in order. */
  push(chunk: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    this.#buffer = joined;
    const frames: Frame[] = [];
    for (;;) {
      const end = indexOf(this.#buffer, HEADER_END);
      if (end < 0) break;
      const header = decoder.decode(this.#buffer.subarray(0, end));
      const length = contentLength(header);
      if (length === undefined) {
        // Without a length the body cannot be found; drop the header and resynchronize on the
        // next one rather than stall forever.
        this.#buffer = this.#buffer.slice(end + HEADER_END.length);
        frames.push({ error: `a message header without a valid Content-Length: ${header}` });
        continue;
      }
      const start = end + HEADER_END.length;
      if (this.#buffer.length < start + length) break;
      frames.push({ text: decoder.decode(this.#buffer.subarray(start, start + length)) });
      this.#buffer = this.#buffer.slice(start + length);
    }
    return frames;
  }

  /** Bytes received that do not yet form a whole message. */
  get pending(): number {
    return this.#buffer.length;
  }
}

/** The Content-Length of a header block (field names are case-insensitive). */
function contentLength(header: string): number | undefined {
  for (const line of header.split("\r\n")) {
    const m = /^content-length\s*:\s*(\d+)\s*$/i.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function indexOf(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** One message, framed. The length counts UTF-8 bytes, not characters. */
export function encodeFrame(message: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(message));
  const header = encoder.encode(`Content-Length: ${body.length}\r\n\r\n`);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** The frames of a stream, as they complete; ends when the stream does. */
export async function* readFrames(input: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const frames = new FrameDecoder();
  for await (const chunk of input) yield* frames.push(chunk);
}

/** Writes messages one at a time, so frames from overlapping sends never interleave. */
export class MessageWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #queue: Promise<void> = Promise.resolve();

  constructor(output: WritableStream<Uint8Array>) {
    this.#writer = output.getWriter();
  }

  send(message: unknown): Promise<void> {
    const bytes = encodeFrame(message);
    this.#queue = this.#queue.then(() => this.#writer.write(bytes));
    return this.#queue;
  }
}
