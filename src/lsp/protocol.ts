// The subset of JSON-RPC 2.0 and LSP 3.17 that `hopc lsp` speaks. Positions are 0-based lines
// and UTF-16 code units within the line (LSP's default position encoding, which is also how
// JavaScript strings index).

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerNotInitialized: -32002,
} as const;

export type Id = number | string;

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export const DiagnosticSeverity = { Error: 1, Warning: 2 } as const;

export interface LspDiagnostic {
  range: Range;
  severity: number;
  source: string;
  message: string;
}

/** CompletionItemKind values used here. */
export const CompletionItemKind = {
  Function: 3,
  Field: 5,
  Variable: 6,
  Property: 10,
  Keyword: 14,
  EnumMember: 20,
} as const;

export interface CompletionItem {
  label: string;
  kind: number;
  detail?: string;
  documentation?: { kind: "markdown"; value: string };
  /** Replaces the word being typed (from its start to the cursor). */
  textEdit?: { range: Range; newText: string };
}

export interface Hover {
  contents: { kind: "markdown"; value: string };
  range: Range;
}

/** A text change of `textDocument/didChange`: the whole text, or a range replaced. */
export interface ContentChange {
  range?: Range;
  text: string;
}
