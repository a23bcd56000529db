// `hopc lsp`: the framing and the document store as units, then the server as an editor meets
// it: `deno run -A src/cli/main.ts lsp` spawned and driven with framed JSON-RPC messages. The
// expected names and math come from the checker's catalog and the part registry, so the test
// follows the language; positions are checked against where hopc's own diagnostics point.
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrame, type Frame, FrameDecoder } from "../src/lsp/transport.ts";
import { applyChange, offsetAt, positionAt } from "../src/lsp/documents.ts";
import { diagnose } from "../src/lsp/diagnostics.ts";
import { complete } from "../src/lsp/completion.ts";
import { hover } from "../src/lsp/hover.ts";
import { FIELD_DOCS, partHover, partMath } from "../src/lsp/catalog.ts";
import { LANGUAGE } from "../src/check.ts";
import { entropies } from "../src/parts/registry.ts";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { USAGE } from "../src/cli/main.ts";

const encoder = new TextEncoder();
const texts = (frames: Frame[]) => frames.map((f) => ("text" in f ? f.text : `error: ${f.error}`));

// ---------------------------------------------------------------------------------------------
// Framing.

Deno.test("lsp framing: a message split into single bytes, a multi-byte character included", () => {
  const message = { jsonrpc: "2.0", id: 1, method: "x", params: { text: "β ≤ 1, Σ p = 1" } };
  const bytes = encodeFrame(message);
  const header = new TextDecoder().decode(bytes).split("\r\n\r\n")[0];
  const body = encoder.encode(JSON.stringify(message));
  assert.equal(header, `Content-Length: ${body.length}`, "the length counts UTF-8 bytes");
  assert.ok(body.length > JSON.stringify(message).length);
  const d = new FrameDecoder();
  const out: Frame[] = [];
  for (const b of bytes) out.push(...d.push(new Uint8Array([b])));
  assert.deepEqual(out, [{ text: JSON.stringify(message) }]);
  assert.equal(d.pending, 0);
});

Deno.test("lsp framing: coalesced messages, split at every place, come out whole and in order", () => {
  const messages = [{ id: 1 }, { method: "a", params: { s: "é" } }, { id: 2, result: null }];
  const all = new Uint8Array(messages.flatMap((m) => [...encodeFrame(m)]));
  const want = messages.map((m) => JSON.stringify(m));
  assert.deepEqual(texts(new FrameDecoder().push(all)), want, "one chunk, three messages");
  for (let cut = 0; cut <= all.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
    assert.deepEqual(texts(got), want, `cut at byte ${cut}`);
  }
});

Deno.test("lsp framing: header names in any case, a Content-Type, and a bad header skipped", () => {
  const body = '{"id":7}';
  const framed = `content-length: ${body.length}\r\nContent-Type: application/vscode-jsonrpc; ` +
    `charset=utf-8\r\n\r\n${body}`;
  assert.deepEqual(texts(new FrameDecoder().push(encoder.encode(framed))), [body]);
  const bad = `X-Nothing: 1\r\n\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const got = new FrameDecoder().push(encoder.encode(bad));
  assert.equal(got.length, 2);
  assert.ok("error" in got[0]);
  assert.deepEqual(got[1], { text: body });
});

// ---------------------------------------------------------------------------------------------
// Documents and positions.

Deno.test("lsp documents: positions over \\n, \\r\\n and \\r line breaks, clamped like LSP", () => {
  const text = "ab\r\ncd\ne\rf";
  assert.equal(offsetAt(text, { line: 1, character: 1 }), 5);
  assert.equal(offsetAt(text, { line: 0, character: 99 }), 2, "clamped before the line break");
  assert.equal(offsetAt(text, { line: 3, character: 0 }), 9);
  assert.equal(offsetAt(text, { line: 9, character: 0 }), text.length);
  for (let o = 0; o <= text.length; o++) {
    if (text[o - 1] === "\r" && text[o] === "\n") continue; // inside a \r\n: no position
    assert.equal(offsetAt(text, positionAt(text, o)), o, `offset ${o}`);
  }
  const edited = applyChange("model m {\n  beta 4\n}\n", {
    range: { start: { line: 1, character: 7 }, end: { line: 1, character: 8 } },
    text: "16",
  });
  assert.equal(edited, "model m {\n  beta 16\n}\n");
  assert.equal(applyChange("old", { text: "new" }), "new", "a change without range is the text");
});

// ---------------------------------------------------------------------------------------------
// Features in process: they never throw, and every name has its documentation.

Deno.test("lsp features: any text gives diagnostics, completions and hovers, never an exception", () => {
  const piece = fc.constantFrom(
    "model",
    "param",
    "m",
    "{",
    "}",
    "(",
    ")",
    "=",
    ",",
    " ",
    "\n",
    "\r\n",
    "#c\n",
    "1.5",
    "-2",
    "1e",
    "entropy",
    "tsallis",
    "alpha",
    "mask",
    "topk",
    "k",
    "memory",
    "continuous",
    "basis",
    "box",
    "steps",
    "until",
    "beta",
    "b",
    "@",
    "é",
    "𝛽",
    "\t",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
      const text = pieces.join("");
      const diags = diagnose(text, "x.hop");
      for (const d of diags) {
        assert.ok(d.range.start.line >= 0 && d.range.start.character >= 0);
        assert.ok(offsetAt(text, d.range.start) <= offsetAt(text, d.range.end));
      }
      for (let o = 0; o <= text.length; o++) {
        const position = positionAt(text, o);
        complete(text, position);
        hover(text, position);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("lsp hover: arguments say what they accept, params where they are declared", () => {
  const text = "param b = 4\nmodel m {\n  param k = 3\n  entropy tsallis(alpha = 1.5)\n" +
    "  mask topk(k = k)\n  memory continuous(basis = box)\n  beta b\n}\n";
  const at = (line: number, character: number) => hover(text, { line, character })?.contents.value;
  assert.match(
    at(3, 19) ?? "",
    /\*\*alpha\*\* \(argument of `tsallis`\): must be greater than 1; required/,
  );
  assert.match(at(5, 21) ?? "", /one of `box`, `gaussian`; default `box`/, "hover on basis");
  assert.match(at(5, 29) ?? "", /basis/, "hover on the value box");
  assert.match(at(6, 7) ?? "", /param\*\* `b = 4` \(line 1\)/);
  assert.match(at(4, 16) ?? "", /param\*\* `k = 3` \(line 3\)/, "the model's own param");
  assert.match(at(1, 1) ?? "", /a model block/);
  assert.equal(at(0, 11), undefined, "nothing to say about a number");
});

Deno.test("lsp catalog: every field has a meaning and every part its math", () => {
  for (const [field, spec] of Object.entries(LANGUAGE)) {
    assert.ok(FIELD_DOCS[field], `field ${field} has no description`);
    if (spec.kind === "number") continue;
    for (const part of Object.keys(spec.parts)) {
      const math = partMath(field, part);
      assert.ok(math, `${field} ${part} has no math`);
      assert.ok(partHover(field, part)?.includes(math), `${field} ${part}: hover shows the math`);
    }
  }
});

Deno.test("lsp command line: `hopc lsp` (clients may add --stdio); anything else is wrong", () => {
  assert.equal(parseArgs(["lsp"]).command, "lsp");
  assert.equal(parseArgs(["lsp", "--stdio"]).command, "lsp");
  assert.throws(() => parseArgs(["lsp", "x.hop"]), UsageError);
  assert.throws(() => parseArgs(["lsp", "--json"]), UsageError);
  assert.match(USAGE, /hopc lsp/);
});

// ---------------------------------------------------------------------------------------------
// The server over stdio.

interface Rpc {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string };
}

/** A client: writes framed messages to `hopc lsp` and reads what it sends back. */
class Client {
  readonly child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #inbox: Rpc[] = [];
  #waiters: (() => void)[] = [];
  #nextId = 1;
  readonly done: Promise<void>;

  constructor() {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/main.ts", "lsp"],
      cwd: new URL("..", import.meta.url),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.done = this.#read();
  }

  async #read() {
    const frames = new FrameDecoder();
    for await (const chunk of this.child.stdout) {
      for (const f of frames.push(chunk)) {
        assert.ok("text" in f, "the server sends well-framed messages");
        this.#inbox.push(JSON.parse(f.text));
        this.#waiters.splice(0).forEach((w) => w());
      }
    }
  }

  send(message: Rpc): Promise<void> {
    return this.sendRaw(encodeFrame({ jsonrpc: "2.0", ...message }));
  }

  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /** The next message that `match` accepts; earlier messages stay in the inbox. */
  async next(match: (m: Rpc) => boolean, what: string): Promise<Rpc> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const i = this.#inbox.findIndex(match);
      if (i >= 0) return this.#inbox.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no ${what} from the server`);
      const timer = new Promise<void>((r) => setTimeout(r, 1000));
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), timer]);
    }
  }

  /** Messages received and not yet taken by `next`. */
  get unclaimed(): Rpc[] {
    return [...this.#inbox];
  }

  async request(method: string, params?: unknown): Promise<Rpc> {
    const id = this.#nextId++;
    await this.send({ id, method, params: params as Record<string, unknown> });
    return this.next((m) => m.id === id && m.method === undefined, `response to ${method}`);
  }

  notify(method: string, params?: unknown): Promise<void> {
    return this.send({ method, params: params as Record<string, unknown> });
  }

  diagnostics(uri: string): Promise<Rpc> {
    return this.next(
      (m) => m.method === "textDocument/publishDiagnostics" && m.params?.uri === uri,
      `diagnostics of ${uri}`,
    );
  }

  async close(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    const status = await this.child.status;
    await this.done;
    await this.child.stderr.cancel();
    return status;
  }
}

type Diag = { range: { start: Position; end: Position }; severity: number; message: string };
type Position = { line: number; character: number };
type Item = { label: string; textEdit?: { range: { start: Position } } };

const URI = "file:///tmp/editor.hop";
const GOOD = Deno.readTextFileSync(new URL("../examples/sparse_l2.hop", import.meta.url));

Deno.test("lsp server: diagnostics, completion and hover over stdio, then shutdown and exit 0", async (t) => {
  const c = new Client();
  try {
    await t.step("requests before initialize are refused", async () => {
      const r = await c.request("textDocument/hover", {
        textDocument: { uri: URI },
        position: { line: 0, character: 0 },
      });
      assert.equal(r.error?.code, -32002);
    });

    await t.step("initialize announces sync, completion and hover", async () => {
      const r = await c.request("initialize", { processId: null, rootUri: null, capabilities: {} });
      const caps = (r.result as { capabilities: Record<string, unknown> }).capabilities;
      assert.deepEqual(caps.textDocumentSync, { openClose: true, change: 2 });
      assert.ok(caps.completionProvider);
      assert.equal(caps.hoverProvider, true);
      await c.notify("initialized", {});
    });

    let version = 1;
    const change = async (text: string) => {
      await c.notify("textDocument/didChange", {
        textDocument: { uri: URI, version: ++version },
        contentChanges: [{ text }],
      });
      return (await c.diagnostics(URI)).params as { diagnostics: Diag[]; version: number };
    };

    await t.step("a good file has no diagnostics", async () => {
      await c.notify("textDocument/didOpen", {
        textDocument: { uri: URI, languageId: "hop", version, text: GOOD },
      });
      const p = (await c.diagnostics(URI)).params as { diagnostics: Diag[]; version: number };
      assert.deepEqual(p.diagnostics, []);
      assert.equal(p.version, 1);
    });

    await t.step("an unknown entropy name: placed on the name, with the suggestion", async () => {
      const p = await change("model m {\n  similarity dot\n  entropy tsalis(alpha = 1.5)\n}\n");
      assert.equal(p.version, version);
      assert.equal(p.diagnostics.length, 1);
      const [d] = p.diagnostics;
      assert.deepEqual(d.range, {
        start: { line: 2, character: 10 },
        end: { line: 2, character: 16 },
      });
      assert.equal(d.severity, 1);
      assert.match(d.message, /unknown entropy `tsalis`/);
      assert.match(d.message, /did you mean `tsallis`\?/);
    });

    await t.step("an incremental edit to alpha = 0.5: out of range, on the number", async () => {
      await c.notify("textDocument/didChange", {
        textDocument: { uri: URI, version: ++version },
        contentChanges: [
          {
            range: { start: { line: 2, character: 10 }, end: { line: 2, character: 16 } },
            text: "tsallis",
          },
          {
            range: { start: { line: 2, character: 26 }, end: { line: 2, character: 29 } },
            text: "0.5",
          },
        ],
      });
      const p = (await c.diagnostics(URI)).params as { diagnostics: Diag[] };
      assert.equal(p.diagnostics.length, 1);
      const [d] = p.diagnostics;
      assert.deepEqual(d.range.start, { line: 2, character: 26 });
      assert.deepEqual(d.range.end, { line: 2, character: 29 });
      assert.match(d.message, /alpha must be greater than 1, got 0\.5/);
      assert.match(d.message, /hint: /);
    });

    await t.step("a syntax error: `beta = 4` points at the `=`", async () => {
      const p = await change("model m {\n  beta = 4\n}\n");
      const d = p.diagnostics[0];
      assert.deepEqual(d.range.start, { line: 1, character: 7 });
      assert.match(d.message, /unexpected `=` after `beta`/);
    });

    await t.step(
      "text that is not hop at all gives diagnostics, and the server goes on",
      async () => {
        const p = await change("\u0000}{)(= = model model ,, é 𝛽 1e999 {{{");
        assert.ok(p.diagnostics.length > 0);
        for (const d of p.diagnostics) assert.ok(d.range.start.line === 0);
      },
    );

    const completeAt = async (text: string, line: number, character: number) => {
      await change(text);
      const r = await c.request("textDocument/completion", {
        textDocument: { uri: URI },
        position: { line, character },
      });
      return (r.result as { items: Item[] }).items;
    };
    const labels = (items: Item[]) => items.map((i) => i.label).sort();

    await t.step("completion after `entropy ` lists the registry's entropies", async () => {
      const items = await completeAt("model m {\n  entropy \n}\n", 1, 10);
      assert.deepEqual(labels(items), Object.keys(entropies).sort());
    });

    await t.step(
      "a field whose value is missing does not swallow the next line's field",
      async () => {
        const items = await completeAt("model m {\n  beta\n  entropy \n}\n", 2, 10);
        assert.deepEqual(labels(items), Object.keys(entropies).sort());
      },
    );

    await t.step("completion of a partly typed part name replaces the word", async () => {
      const items = await completeAt("model m {\n  entropy spa\n}\n", 1, 13);
      const sparsemax = items.find((i) => i.label === "sparsemax");
      assert.ok(sparsemax);
      assert.deepEqual(sparsemax.textEdit?.range.start, { line: 1, character: 10 });
    });

    await t.step("completion inside a block lists the fields not yet written", async () => {
      const items = await completeAt("model m {\n  beta 2\n  \n}\n", 2, 2);
      const want = [...Object.keys(LANGUAGE).filter((f) => f !== "beta"), "param"].sort();
      assert.deepEqual(labels(items), want);
    });

    await t.step(
      "completion inside `tsallis(` lists alpha; in `continuous(` the rest",
      async () => {
        assert.deepEqual(labels(await completeAt("model m { entropy tsallis( }", 0, 26)), [
          "alpha",
        ]);
        const text = "model m {\n  memory continuous(basis = box, functions = 8, \n}\n";
        const args = Object.keys(
          LANGUAGE.memory.kind === "part" ? LANGUAGE.memory.parts.continuous.args : {},
        );
        assert.deepEqual(
          labels(await completeAt(text, 1, 49)),
          args.filter((a) => a !== "basis" && a !== "functions").sort(),
        );
        assert.deepEqual(labels(await completeAt("model m { memory continuous(basis = ", 0, 36)), [
          "box",
          "gaussian",
        ]);
      },
    );

    await t.step(
      "completion at the top level offers the keywords, in a comment nothing",
      async () => {
        assert.deepEqual(labels(await completeAt("", 0, 0)), ["model", "param"]);
        assert.deepEqual(await completeAt("model m {\n  # entropy \n}", 1, 12), []);
      },
    );

    await t.step("hover on sparsemax shows its math from the registry", async () => {
      await change("model m {\n  entropy sparsemax\n}\n");
      const r = await c.request("textDocument/hover", {
        textDocument: { uri: URI },
        position: { line: 1, character: 14 },
      });
      const h = r.result as { contents: { value: string }; range: { start: Position } };
      assert.ok(h.contents.value.includes(entropies.sparsemax.math), h.contents.value);
      assert.deepEqual(h.range.start, { line: 1, character: 10 });
    });

    await t.step("hover on a field says what it means and its default", async () => {
      await change("model m {\n  beta 2\n}\n");
      const r = await c.request("textDocument/hover", {
        textDocument: { uri: URI },
        position: { line: 1, character: 3 },
      });
      const value = (r.result as { contents: { value: string } }).contents.value;
      assert.ok(value.includes(FIELD_DOCS.beta));
      assert.match(value, /Default: `1`/);
      const none = await c.request("textDocument/hover", {
        textDocument: { uri: URI },
        position: { line: 0, character: 9 },
      });
      assert.equal(none.result, null, "nothing to say over whitespace");
    });

    await t.step("unknown request: MethodNotFound; unknown notification: no answer", async () => {
      await c.notify("workspace/somethingNew", {});
      const r = await c.request("workspace/symbol", { query: "" });
      assert.equal(r.error?.code, -32601);
      // A request's method sent as a notification (no id): nothing to answer.
      await c.notify("textDocument/hover", {});
      const bad = await c.request("textDocument/hover", { nothing: true });
      assert.equal(bad.error?.code, -32602);
      // Responses come in order, so an answer to either notification would be here by now.
      assert.deepEqual(c.unclaimed, []);
    });

    await t.step("didClose clears the diagnostics", async () => {
      await change("model m { beta -1 }");
      await c.notify("textDocument/didClose", { textDocument: { uri: URI } });
      const p = (await c.diagnostics(URI)).params as { diagnostics: Diag[] };
      assert.deepEqual(p.diagnostics, []);
    });

    await t.step("shutdown, then exit: the process ends with code 0", async () => {
      const r = await c.request("shutdown");
      assert.equal(r.result, null);
      assert.equal(r.error, undefined);
      await c.notify("exit");
      const status = await c.close();
      assert.equal(status.code, 0);
    });
  } finally {
    await c.close();
  }
});

Deno.test("lsp server: exit without shutdown ends with code 1; bad JSON gets a ParseError", async () => {
  const c = new Client();
  try {
    await c.request("initialize", {});
    const body = encoder.encode("{not json");
    await c.sendRaw(
      new Uint8Array([...encoder.encode(`Content-Length: ${body.length}\r\n\r\n`), ...body]),
    );
    const e = await c.next((m) => m.error !== undefined, "parse error");
    assert.equal(e.error?.code, -32700);
    await c.notify("exit");
    assert.equal((await c.close()).code, 1);
  } finally {
    await c.close();
  }
});
