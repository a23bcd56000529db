// Diagnostics: what every stage reports when the input is wrong. A diagnostic names the file and
// the place (line and column, 1-based) and is printed as `FILE:LINE:COL: error: MESSAGE`, the
// source line, and a caret under the span (LANGUAGE.md section 3).
import { z } from "zod";

export const Diagnostic = z.object({
  file: z.string(),
  line: z.number().int().min(1),
  col: z.number().int().min(1),
  /** Length of the span the caret underlines (at least 1). */
  length: z.number().int().min(1),
  severity: z.enum(["error", "warning"]),
  message: z.string(),
  /** Optional extra advice printed after the caret ("did you mean `tsallis`?"). */
  hint: z.string().optional(),
});
export type Diagnostic = z.infer<typeof Diagnostic>;

/** A failure of the input (exit code 1) carrying one or more diagnostics. */
export class HopError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(
      diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}`).join(
        "\n",
      ),
    );
    this.name = "HopError";
  }
}

/** An input error about a data file or value rather than a place in a `.hop` file. */
export function inputError(file: string, message: string, hint?: string): HopError {
  return new HopError([{ file, line: 1, col: 1, length: 1, severity: "error", message, hint }]);
}

/** Error when no usable WebGPU adapter exists where one was required (exit code 3). */
export class NoAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoAdapterError";
  }
}

/** Render diagnostics for a terminal: header line, the source line, and a caret under the span. */
export function formatDiagnostics(diags: Diagnostic[], sources: Map<string, string>): string {
  const out: string[] = [];
  for (const d of diags) {
    out.push(`${d.file}:${d.line}:${d.col}: ${d.severity}: ${d.message}`);
    const text = sources.get(d.file);
    if (text !== undefined) {
      // Lines end as the lexer ends them: `\r\n`, `\n` or a lone `\r` (old Mac files).
      const lineText = text.split(/\r\n|\r|\n/)[d.line - 1];
      if (lineText !== undefined) {
        out.push(`  ${lineText}`);
        const caretLen = Math.max(1, Math.min(d.length, lineText.length - d.col + 1));
        out.push(`  ${" ".repeat(d.col - 1)}${"^".repeat(caretLen)}`);
      }
    }
    if (d.hint) out.push(`  hint: ${d.hint}`);
  }
  return out.join("\n");
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length];
}

/** The nearest valid name, if it is close enough to be a plausible typo. */
export function suggest(name: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const v of valid) {
    const d = editDistance(name.toLowerCase(), v.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = v;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}
