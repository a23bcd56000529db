// The invariants each fuzzed input is held to. Each check returns undefined, or a sentence that
// says what broke (an exception is caught and reported as such, with its stack).
import { parse } from "../../grammar/index.ts";
import { checkText } from "../../src/check.ts";
import { Diagnostic, formatDiagnostics, HopError } from "../../src/diagnostics.ts";
import { Model } from "../../src/ir.ts";
import { complete } from "../../src/lsp/completion.ts";
import { diagnose } from "../../src/lsp/diagnostics.ts";
import { lineStarts } from "../../src/lsp/documents.ts";
import { hover } from "../../src/lsp/hover.ts";
import { ErrorCodes, type Position, type Range } from "../../src/lsp/protocol.ts";
import { Server } from "../../src/lsp/server.ts";
import { MessageWriter } from "../../src/lsp/transport.ts";
import { parseNpy } from "../../src/io/npy.ts";
import type { Rng } from "./language.ts";

export const FILE = "fuzz.hop";

export function thrown(e: unknown): string {
  return `uncaught exception: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

/** Lines as the lexer counts them: `\n`, `\r\n` and a lone `\r` each end one. */
export function sourceLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

export interface FrontEndResult {
  failure?: string;
  accepted: boolean;
  models: Model[];
}

/** parse + check: no exception, every diagnostic placed in the text, models valid IR. */
export function frontEnd(text: string, overrides: Record<string, number>): FrontEndResult {
  let result;
  let blocks;
  try {
    result = checkText(text, FILE, overrides);
    blocks = parse(text, FILE).ast.models.length;
  } catch (e) {
    return { failure: thrown(e), accepted: false, models: [] };
  }
  const { models, diagnostics } = result;
  const fail = (failure: string) => ({ failure, accepted: false, models });
  const lines = sourceLines(text);
  for (const [i, d] of diagnostics.entries()) {
    const where = JSON.stringify(d);
    if (!Diagnostic.safeParse(d).success) return fail(`malformed diagnostic ${where}`);
    if (d.file !== FILE) return fail(`diagnostic names file ${d.file}: ${where}`);
    if (!d.message.trim()) return fail(`diagnostic without a message: ${where}`);
    if (d.line > lines.length) {
      return fail(`diagnostic past the last line ${lines.length}: ${where}`);
    }
    const lineText = lines[d.line - 1];
    if (d.col > lineText.length + 1) {
      return fail(`diagnostic past the end of line ${d.line} (${lineText.length}): ${where}`);
    }
    // Printing splits the whole text each time: the first few show whether lines agree.
    if (i >= 8) continue;
    let printed: string;
    try {
      printed = formatDiagnostics([d], new Map([[FILE, text]]));
    } catch (e) {
      return fail(thrown(e));
    }
    if (printed.split("\n")[1] !== `  ${lineText}`) {
      return fail(`the printed diagnostic shows another line than ${d.line}: ${where}\n${printed}`);
    }
  }
  for (const m of models) {
    const ok = Model.safeParse(m);
    if (!ok.success) return fail(`model ${m.name} fails the IR schema: ${ok.error.message}`);
  }
  if (diagnostics.length === 0 && models.length !== blocks) {
    return fail(`no diagnostics, but ${models.length} of ${blocks} model blocks came back`);
  }
  return { accepted: diagnostics.length === 0, models };
}

function validPosition(text: string, starts: number[], p: Position, what: string) {
  const ok = Number.isInteger(p.line) && p.line >= 0 && p.line < starts.length &&
    Number.isInteger(p.character) && p.character >= 0 &&
    starts[p.line] + p.character <= (starts[p.line + 1] ?? text.length + 1) &&
    starts[p.line] + p.character <= text.length;
  return ok ? undefined : `${what}: position ${JSON.stringify(p)} is not in the text`;
}

function validRange(text: string, starts: number[], r: Range, what: string) {
  return validPosition(text, starts, r.start, what) ?? validPosition(text, starts, r.end, what) ??
    (r.start.line > r.end.line ||
        (r.start.line === r.end.line && r.start.character > r.end.character)
      ? `${what}: range ${JSON.stringify(r)} ends before it starts`
      : undefined);
}

/** The editor's handlers on the same text: diagnostics, completion and hover at a few places. */
export function lsp(text: string, rng: Rng): string | undefined {
  const starts = lineStarts(text);
  const positions: Position[] = [
    { line: starts.length - 1, character: text.length - starts[starts.length - 1] },
    rng.pick([
      { line: -1, character: -5 },
      { line: starts.length + 3, character: 1e9 },
      { line: rng.int(starts.length), character: rng.int(120) },
    ]),
  ];
  for (let i = 0; i < 2; i++) {
    const offset = rng.int(text.length + 1);
    let line = 0;
    while (line + 1 < starts.length && starts[line + 1] <= offset) line++;
    positions.push({ line, character: offset - starts[line] });
  }
  try {
    for (const d of diagnose(text, FILE)) {
      const bad = validRange(text, starts, d.range, "lsp diagnostic") ??
        (d.message ? undefined : "lsp diagnostic without a message");
      if (bad) return bad;
    }
    for (const p of positions) {
      for (const item of complete(text, p)) {
        if (!item.label) return `completion at ${JSON.stringify(p)}: an item without a label`;
        const bad = item.textEdit && validRange(text, starts, item.textEdit.range, "completion");
        if (bad) return `${bad} (at ${JSON.stringify(p)})`;
      }
      const h = hover(text, p);
      const bad = h && validRange(text, starts, h.range, "hover");
      if (bad) return `${bad} (at ${JSON.stringify(p)})`;
    }
  } catch (e) {
    return thrown(e);
  }
  return undefined;
}

/** The .npy reader: a clear HopError or a valid finite array, never another exception. */
export function npy(bytes: Uint8Array): { failure?: string; accepted: boolean } {
  try {
    const a = parseNpy(bytes, "fuzz.npy");
    if (!Number.isInteger(a.rows) || !Number.isInteger(a.cols) || a.rows < 0 || a.cols < 0) {
      return { failure: `bad shape ${a.rows} x ${a.cols}`, accepted: true };
    }
    if (a.data.length !== a.rows * a.cols) {
      return { failure: `${a.data.length} values for ${a.rows} x ${a.cols}`, accepted: true };
    }
    if (a.data.some((v) => !Number.isFinite(v))) {
      return { failure: "a non-finite value came back", accepted: true };
    }
    return { accepted: true };
  } catch (e) {
    if (!(e instanceof HopError)) return { failure: thrown(e), accepted: false };
    const d = e.diagnostics[0];
    if (!d?.message || d.file !== "fuzz.npy") {
      return { failure: `an unclear npy error: ${e.message}`, accepted: false };
    }
    return { accepted: false };
  }
}

/**
 * The server itself on the same text: open, an incremental change with a random (maybe
 * out-of-range) range, completion and hover; no request may be answered with InternalError
 * (a handler that threw), and no notification may log one.
 */
export async function lspServer(text: string, rng: Rng): Promise<string | undefined> {
  const sent: { id?: unknown; error?: { code: number; message: string } }[] = [];
  const logged: string[] = [];
  const decoder = new TextDecoder();
  const out = new WritableStream<Uint8Array>({
    write(chunk) {
      const body = decoder.decode(chunk).replace(/^[^]*?\r\n\r\n/, "");
      sent.push(JSON.parse(body));
    },
  });
  const server = new Server(new MessageWriter(out), (t) => logged.push(t));
  const uri = "file:///fuzz%20dir/fuzz.hop";
  const pos = () => ({ line: rng.int(6) - 1, character: rng.int(40) - 1 });
  const messages = [
    { id: 1, method: "initialize", params: {} },
    { method: "initialized", params: {} },
    { method: "textDocument/didOpen", params: { textDocument: { uri, version: 1, text } } },
    {
      method: "textDocument/didChange",
      params: {
        textDocument: { uri, version: 2 },
        contentChanges: [{ range: { start: pos(), end: pos() }, text: text.slice(0, rng.int(20)) }],
      },
    },
    {
      id: 2,
      method: "textDocument/completion",
      params: { textDocument: { uri }, position: pos() },
    },
    { id: 3, method: "textDocument/hover", params: { textDocument: { uri }, position: pos() } },
  ];
  try {
    for (const m of messages) await server.receive(JSON.stringify({ jsonrpc: "2.0", ...m }));
  } catch (e) {
    return thrown(e);
  }
  const internal = sent.find((m) => m.error?.code === ErrorCodes.InternalError);
  if (internal) return `lsp server: InternalError: ${internal.error?.message}`;
  if (logged.length) return `lsp server logged: ${logged.join("; ")}`;
  const unanswered = [1, 2, 3].find((id) => !sent.some((m) => m.id === id));
  if (unanswered) return `lsp server: request ${unanswered} got no answer`;
  return undefined;
}
