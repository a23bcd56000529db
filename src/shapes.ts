// Checks that need the data: the shapes of memories and queries against each other and against the
// model (k and K in 1..M once M is known). Both the reference and the GPU path call this before
// any work, so a bad run fails early with a message that names the file or the model's line.
import { HopError, inputError } from "./diagnostics.ts";
import type { Model, Span } from "./ir.ts";
import { similarityPart } from "./parts/registry.ts";

export interface Shapes {
  /** Memories (rows of X). */
  M: number;
  D: number;
  /** Queries (rows of Q). */
  B: number;
}

export function checkShapes(
  model: Model,
  X: { rows: number; cols: number },
  Q: { rows: number; cols: number },
  names = { memories: "memories", queries: "queries" },
): Shapes {
  if (X.rows < 1 || X.cols < 1) {
    throw inputError(
      names.memories,
      `memories must have at least one row and one column, got [${X.rows}, ${X.cols}]`,
    );
  }
  if (Q.rows < 1) {
    throw inputError(
      names.queries,
      `queries must have at least one row, got [${Q.rows}, ${Q.cols}]`,
    );
  }
  if (Q.cols !== X.cols) {
    throw inputError(
      names.queries,
      `queries have dimension ${Q.cols} but memories have dimension ${X.cols} (shapes [${Q.rows}, ${Q.cols}] and [${X.rows}, ${X.cols}])`,
      "queries and memories must be rows of the same length D",
    );
  }
  const M = X.rows;
  const tooBig = (path: string, what: string, k: number) =>
    modelError(
      model,
      path,
      `${what} = ${k} is larger than the number of memories M = ${M}`,
      `use a value in 1..${M}`,
    );
  if (model.mask.kind === "topk" && model.mask.k > M) {
    throw tooBig("mask.k", "topk K", model.mask.k);
  }
  if (model.entropy.kind === "ksubsets" && model.entropy.k > M) {
    throw tooBig("entropy.k", "ksubsets k", model.entropy.k);
  }
  return { M, D: X.cols, B: Q.rows };
}

/** An error about a value of the model, pointing at where the `.hop` file set it. */
export function modelError(model: Model, path: string, message: string, hint?: string): HopError {
  const span: Span = model.source.spans[path] ?? model.source.spans[path.split(".")[0]] ??
    model.source.span;
  return new HopError([{
    file: model.source.file,
    line: span.line,
    col: span.col,
    length: Math.max(1, span.end - span.start),
    severity: "error",
    message: `model \`${model.name}\`: ${message}`,
    hint,
  }]);
}

/**
 * Checks of the values themselves, for similarities that read rows as distributions (the part's
 * `nonNegative`: kl, reverse_kl, js, normalized_dot): no negative entry in the memories or the
 * queries (the first one is named, by row, column and value), and no post-transform that makes
 * states negative. Called by the reference (src/reference/interpreter.ts), the GPU runtime
 * (src/runtime/retriever.ts) and, with the file names, the command line, before any work.
 * Either matrix may be omitted (a load checks the memories, a retrieve call the queries).
 */
export function checkValues(
  model: Model,
  X: { rows: number; cols: number; data: ArrayLike<number> } | null,
  Q: { rows: number; cols: number; data: ArrayLike<number> } | null,
  names = { memories: "memories", queries: "queries" },
): void {
  if (!similarityPart(model.similarity).nonNegative) return;
  const kind = model.similarity.kind;
  if (model.post.kind === "layernorm") {
    throw modelError(
      model,
      "post",
      `similarity \`${kind}\` needs non-negative states, and post layernorm makes entries negative`,
      "use post identity, l2 or tanh with this similarity",
    );
  }
  for (
    const [m, file, what] of [[X, names.memories, "memories"], [
      Q,
      names.queries,
      "queries",
    ]] as const
  ) {
    if (!m) continue;
    const bad = firstNegative(m.data);
    if (bad < 0) continue;
    throw inputError(
      file,
      `similarity \`${kind}\` needs non-negative ${what}: the first negative entry is row ${
        Math.floor(bad / m.cols)
      }, column ${bad % m.cols} (index ${bad}), value ${m.data[bad]}`,
      "it reads every row as a distribution (divided by its sum): shift or clip the data to >= 0",
    );
  }
}

function firstNegative(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (data[i] < 0) return i;
  return -1;
}
