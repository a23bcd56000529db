// hopc's own diagnostics (parser and checker, `checkText`) as LSP diagnostics. hopc places a
// diagnostic at a 1-based line and column with a length; LSP wants a 0-based range, which may
// run over a line break when the span does (an unterminated block).
import { checkText } from "../check.ts";
import type { Diagnostic } from "../diagnostics.ts";
import { lineStarts, positionAt } from "./documents.ts";
import { DiagnosticSeverity, type LspDiagnostic } from "./protocol.ts";

/** Check a document's text; never throws (checkText reports bad input as diagnostics). */
export function diagnose(text: string, file: string): LspDiagnostic[] {
  const { diagnostics } = checkText(text, file);
  return toLsp(diagnostics, text);
}

export function toLsp(diagnostics: Diagnostic[], text: string): LspDiagnostic[] {
  const starts = lineStarts(text);
  return diagnostics.map((d) => {
    const lineStart = starts[Math.min(d.line, starts.length) - 1] ?? 0;
    const start = Math.min(lineStart + d.col - 1, text.length);
    const end = Math.min(start + Math.max(1, d.length), text.length);
    return {
      range: { start: positionAt(text, start, starts), end: positionAt(text, end, starts) },
      severity: d.severity === "warning" ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error,
      source: "hopc",
      // Editors show one message; the hint is what says how to fix it, so it goes along.
      message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
    };
  });
}
