// The open documents, by URI, kept in sync with the editor (full or incremental changes), and the
// conversion between LSP positions and offsets into the text.
import type { ContentChange, Position } from "./protocol.ts";

export interface Document {
  uri: string;
  version: number;
  text: string;
}

export class DocumentStore {
  #docs = new Map<string, Document>();

  open(uri: string, version: number, text: string): Document {
    const doc = { uri, version, text };
    this.#docs.set(uri, doc);
    return doc;
  }

  /** Apply changes in order (each range refers to the text after the previous change). */
  change(uri: string, version: number, changes: ContentChange[]): Document | undefined {
    const doc = this.#docs.get(uri);
    if (!doc) return undefined;
    for (const c of changes) doc.text = applyChange(doc.text, c);
    doc.version = version;
    return doc;
  }

  close(uri: string): void {
    this.#docs.delete(uri);
  }

  get(uri: string): Document | undefined {
    return this.#docs.get(uri);
  }
}

export function applyChange(text: string, change: ContentChange): string {
  if (!change.range) return change.text;
  const start = offsetAt(text, change.range.start);
  const end = Math.max(start, offsetAt(text, change.range.end));
  return text.slice(0, start) + change.text + text.slice(end);
}

/** Offsets where each line starts; a line ends at `\n`, `\r\n` or `\r` (LSP's line breaks). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 && text.charCodeAt(i + 1) === 10) continue; // the \n of \r\n ends the line
    if (c === 10 || c === 13) starts.push(i + 1);
  }
  return starts;
}

/** Offset of a position; a line past the end or a character past the line is clamped (LSP). */
export function offsetAt(text: string, pos: Position, starts = lineStarts(text)): number {
  if (pos.line < 0) return 0;
  if (pos.line >= starts.length) return text.length;
  const start = starts[pos.line];
  let end = pos.line + 1 < starts.length ? starts[pos.line + 1] : text.length;
  // The character index stops before the line break.
  while (end > start && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  return Math.min(start + Math.max(0, pos.character), end);
}

export function positionAt(text: string, offset: number, starts = lineStarts(text)): Position {
  const at = Math.max(0, Math.min(offset, text.length));
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= at) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: at - starts[lo] };
}
