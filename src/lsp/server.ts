// `hopc lsp`: a language server over stdio (JSON-RPC 2.0, LSP 3.17 subset). Lifecycle:
// `initialize` (answered with the capabilities), `initialized`, documents opened, changed
// (incrementally) and closed, each change answered by `textDocument/publishDiagnostics` from
// hopc's own parser and checker; `textDocument/completion` and `textDocument/hover`; `shutdown`,
// then `exit` (code 0 after shutdown, 1 without, as LSP asks). Requests of unknown methods get
// MethodNotFound; unknown notifications are ignored. A handler that throws answers its request
// with InternalError and the server goes on: no input text may end it.
import { complete } from "./completion.ts";
import { diagnose } from "./diagnostics.ts";
import { DocumentStore } from "./documents.ts";
import { hover } from "./hover.ts";
import { type ContentChange, ErrorCodes, type Id, type Position } from "./protocol.ts";
import { MessageWriter, readFrames } from "./transport.ts";

interface Message {
  jsonrpc?: string;
  id?: Id | null;
  method?: string;
  params?: unknown;
}

class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

type Params = Record<string, unknown>;

interface TextDocumentPosition {
  textDocument: { uri: string };
  position: Position;
}

export class Server {
  readonly docs = new DocumentStore();
  #initialized = false;
  #shutdown = false;
  /** Set by `exit`: the process exit code. */
  exitCode: number | undefined;

  constructor(readonly out: MessageWriter, readonly log: (text: string) => void) {}

  get shutDown(): boolean {
    return this.#shutdown;
  }

  /** Handle one frame's JSON text. */
  async receive(text: string): Promise<void> {
    let msg: Message;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.out.send(errorResponse(null, ErrorCodes.ParseError, "the message is not JSON"));
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      return this.out.send(
        errorResponse(null, ErrorCodes.InvalidRequest, "a message is a JSON object"),
      );
    }
    if (typeof msg.method !== "string") return; // a response: this server sends no requests
    const isRequest = msg.id !== undefined && msg.id !== null;
    try {
      if (isRequest) {
        const result = await this.request(msg.method, msg.params);
        await this.out.send({ jsonrpc: "2.0", id: msg.id, result });
      } else {
        await this.notification(msg.method, msg.params);
      }
    } catch (e) {
      const code = e instanceof RpcError ? e.code : ErrorCodes.InternalError;
      const message = e instanceof Error ? e.message : String(e);
      if (isRequest) await this.out.send(errorResponse(msg.id!, code, message));
      else this.log(`hopc lsp: ${msg.method}: ${message}`);
    }
  }

  request(method: string, params: unknown): unknown {
    if (method === "initialize") {
      this.#initialized = true;
      return {
        capabilities: {
          // 2 = incremental: the client sends only the edited ranges.
          textDocumentSync: { openClose: true, change: 2 },
          completionProvider: { triggerCharacters: ["(", ",", "="] },
          hoverProvider: true,
        },
        serverInfo: { name: "hopc" },
      };
    }
    if (!this.#initialized) {
      throw new RpcError(ErrorCodes.ServerNotInitialized, "initialize first");
    }
    if (this.#shutdown) throw new RpcError(ErrorCodes.InvalidRequest, "the server is shut down");
    switch (method) {
      case "shutdown":
        this.#shutdown = true;
        return null;
      case "textDocument/completion": {
        const { text, position } = this.#at(params);
        return { isIncomplete: false, items: text === undefined ? [] : complete(text, position) };
      }
      case "textDocument/hover": {
        const { text, position } = this.#at(params);
        return text === undefined ? null : hover(text, position);
      }
    }
    throw new RpcError(ErrorCodes.MethodNotFound, `unknown method ${method}`);
  }

  async notification(method: string, params: unknown): Promise<void> {
    if (method === "exit") {
      this.exitCode = this.#shutdown ? 0 : 1;
      return;
    }
    // Before initialize, notifications are dropped (LSP); so are documents after shutdown.
    if (!this.#initialized || this.#shutdown) return;
    const p = (params ?? {}) as Params;
    const doc = p.textDocument as { uri?: string; version?: number; text?: string } | undefined;
    switch (method) {
      case "textDocument/didOpen":
        if (typeof doc?.uri !== "string" || typeof doc.text !== "string") return badParams(method);
        this.docs.open(doc.uri, doc.version ?? 0, doc.text);
        return await this.#publish(doc.uri);
      case "textDocument/didChange": {
        if (typeof doc?.uri !== "string" || !Array.isArray(p.contentChanges)) {
          return badParams(method);
        }
        const changes = (p.contentChanges as ContentChange[]).filter((c) =>
          typeof c?.text === "string"
        );
        if (this.docs.change(doc.uri, doc.version ?? 0, changes)) await this.#publish(doc.uri);
        return;
      }
      case "textDocument/didClose":
        if (typeof doc?.uri !== "string") return badParams(method);
        this.docs.close(doc.uri);
        // Clear what the editor shows for a file that is no longer open.
        return await this.out.send(publish(doc.uri, []));
    }
    // `initialized`, `$/cancelRequest`, `$/setTrace`, ...: nothing to do.
  }

  async #publish(uri: string): Promise<void> {
    const doc = this.docs.get(uri);
    if (!doc) return;
    await this.out.send(publish(uri, diagnose(doc.text, fileName(uri)), doc.version));
  }

  #at(params: unknown): { text: string | undefined; position: Position } {
    const p = params as Partial<TextDocumentPosition> | undefined;
    const pos = p?.position;
    if (typeof p?.textDocument?.uri !== "string" || !pos || typeof pos.line !== "number") {
      throw new RpcError(ErrorCodes.InvalidParams, "expected textDocument and position");
    }
    return { text: this.docs.get(p.textDocument.uri)?.text, position: pos };
  }
}

function badParams(method: string): never {
  throw new RpcError(ErrorCodes.InvalidParams, `${method} without a valid textDocument`);
}

function publish(uri: string, diagnostics: unknown[], version?: number) {
  return {
    jsonrpc: "2.0",
    method: "textDocument/publishDiagnostics",
    params: { uri, diagnostics, ...(version !== undefined ? { version } : {}) },
  };
}

function errorResponse(id: Id | null, code: number, message: string) {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/** The file name diagnostics carry (LSP places them by URI; this is only for their text). */
function fileName(uri: string): string {
  const last = uri.replace(/^.*\//, "");
  try {
    return decodeURIComponent(last) || uri;
  } catch {
    return last || uri; // a malformed %-escape: keep it as written
  }
}

/**
 * Serve until `exit` or the end of the input; returns the exit code: 0 after `shutdown` then
 * `exit`, 1 when the client exits or disconnects without shutting down.
 */
export async function serve(
  input: ReadableStream<Uint8Array>,
  output: WritableStream<Uint8Array>,
  log: (text: string) => void = (t) => console.error(t),
): Promise<number> {
  const server = new Server(new MessageWriter(output), log);
  for await (const frame of readFrames(input)) {
    if ("error" in frame) {
      log(`hopc lsp: ${frame.error}`);
      continue;
    }
    await server.receive(frame.text);
    if (server.exitCode !== undefined) return server.exitCode;
  }
  return server.shutDown ? 0 : 1;
}
