// The retrieval inputs that come beside the memories and queries (hetero-association and pattern
// completion), checked against them before any work:
//   values V [M, Dv]: the scores come from the keys X, the readout of the final weights from V
//     (the state iterates over the keys, q <- post(X^T p), and V^T p is read once at the end, as
//     hopfield-layers does); the output is [B, Dv].
//   clamp C [B, D] or [1, D] of 0/1: dims with 1 keep the query's given values, reset after every
//     post-transform (the input one too), so `until` measures the change of the free dims only.
//   graph A [M, M] of entries >= 0: the memory graph of `readout project(h = ...)` (CDAM, MATH.md
//     7.7); a load-time input (the readout rows are computed once from it), normalized to
//     H = D^-1/2 A D^-1/2 with D^-1/2 of a zero degree taken as 0 (src/runtime/hopc_host.ts).
//     Unlike values, the projected rows are what the state iterates through at every step.
import { inputError } from "./diagnostics.ts";
import type { Model } from "./ir.ts";
import type { Mat } from "./parts/types.ts";
import { readoutPart } from "./parts/registry.ts";
import { modelError } from "./shapes.ts";
import { normalizeGraph } from "./runtime/hopc_host.ts";

export interface Extras {
  values?: Mat;
  clamp?: Mat;
  /** The memory graph's adjacency [M, M] (raw; normalized by `readoutRows`). */
  graph?: Mat;
}

/**
 * The graph's checks (shape [M, M], finite, no negative entry) and its fit to the model: a
 * readout that reads the graph needs it, and a graph the model never reads is refused rather
 * than silently ignored. Throws an input error naming the file and the offending entry.
 */
export function checkGraph(model: Model, M: number, graph: Mat | undefined, file = "graph"): void {
  const uses = readoutPart(model.readout).usesGraph(model.readout);
  if (!graph) {
    if (uses) {
      throw modelError(
        model,
        "readout",
        "`readout project` with h != 0 reads the memory graph, and none was given",
        "pass its adjacency matrix [M, M] with --graph A.npy (library: { graph }), or set h = 0",
      );
    }
    return;
  }
  if (!uses) {
    throw inputError(
      file,
      `model \`${model.name}\` never reads a memory graph: its readout is ${
        model.readout.kind === "keys" ? "`keys` (the default)" : "`project` with h = 0"
      }`,
      "write `readout project(a = 1, h = 1)` (h weighs the graph's neighbours), or leave out --graph",
    );
  }
  if (graph.rows !== M || graph.cols !== M) {
    throw inputError(
      file,
      `the graph has shape [${graph.rows}, ${graph.cols}] but there are M = ${M} memories`,
      `the graph must be [M, M] = [${M}, ${M}]: entry [i, j] weighs the edge from memory i to memory j`,
    );
  }
  checkFinite(graph, file);
  const bad = graph.data.findIndex((v) => v < 0);
  if (bad >= 0) {
    throw inputError(
      file,
      `the graph holds ${graph.data[bad]} at row ${Math.floor(bad / M)}, column ${
        bad % M
      }: edge weights must be zero or positive`,
      "D^-1/2 A D^-1/2 needs non-negative degrees: use 0 for no edge and a positive weight for an edge",
    );
  }
}

/**
 * The memory graph of a synthetic run (`hopc bench`, `hopc tune`, which make their own data): a
 * directed cycle over the M memories when the model reads a graph, else none.
 */
export function syntheticGraph(model: Model, M: number): Mat | undefined {
  if (!readoutPart(model.readout).usesGraph(model.readout)) return undefined;
  const A = new Float64Array(M * M);
  for (let i = 0; i < M; i++) A[i * M + (i + 1) % M] = 1;
  return { rows: M, cols: M, data: A };
}

/** The rows the weights read each next state from: X itself, or the projection over the graph. */
export function readoutRows(model: Model, X: Mat, graph: Mat | undefined): Mat {
  const part = readoutPart(model.readout);
  if (model.readout.kind === "keys") return X;
  const H = graph && part.usesGraph(model.readout) ? normalizeGraph(graph) : null;
  return part.rows(model.readout, X, H);
}

/** Throws an input error naming the file and the offending shape or value. */
export function checkExtras(
  model: Model,
  shapes: { M: number; D: number; B: number },
  extras: Extras,
  names = { values: "values", clamp: "clamp" },
): void {
  const { values: V, clamp: C } = extras;
  if (V) {
    if (model.memory.kind === "continuous" || model.similarity.kind === "features") {
      throw inputError(
        names.values,
        `model \`${model.name}\`: values apart from the keys need one weight per memory; ${
          model.memory.kind === "continuous"
            ? "continuous memory weighs basis functions"
            : "features similarity never forms per-memory weights"
        }`,
        "use a discrete memory with a similarity other than features",
      );
    }
    if (V.rows !== shapes.M || V.cols < 1) {
      throw inputError(
        names.values,
        `values have shape [${V.rows}, ${V.cols}] but there are M = ${shapes.M} memories`,
        `values must be [M, Dv] = [${shapes.M}, Dv]: one row per memory (row i is the value of key i)`,
      );
    }
    checkFinite(V, names.values);
  }
  if (C) {
    if (C.cols !== shapes.D || (C.rows !== shapes.B && C.rows !== 1)) {
      throw inputError(
        names.clamp,
        `clamp has shape [${C.rows}, ${C.cols}] but the queries are [${shapes.B}, ${shapes.D}]`,
        `clamp must be [B, D] = [${shapes.B}, ${shapes.D}] or [1, D] = [1, ${shapes.D}]`,
      );
    }
    const bad = C.data.findIndex((v) => v !== 0 && v !== 1);
    if (bad >= 0) {
      throw inputError(
        names.clamp,
        `clamp holds ${C.data[bad]} at row ${Math.floor(bad / C.cols)}, column ${
          bad % C.cols
        }: a clamp mask holds only 0 (free) and 1 (fixed)`,
      );
    }
  }
}

function checkFinite(A: Mat, file: string) {
  const bad = A.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw inputError(
      file,
      `${Number.isNaN(A.data[bad]) ? "NaN" : "an infinity"} at row ${
        Math.floor(bad / A.cols)
      }, column ${bad % A.cols}`,
      "hopc needs finite data: clean or impute the array first",
    );
  }
}

/** The 0/1 clamp mask of query b (a [1, D] mask applies to every query), or null. */
export function clampRow(clamp: Mat | undefined, b: number): Float64Array | null {
  if (!clamp) return null;
  const r = clamp.rows === 1 ? 0 : b;
  return clamp.data.subarray(r * clamp.cols, (r + 1) * clamp.cols);
}

/** state[d] <- given[d] where mask[d] = 1 (in place). */
export function applyClamp(state: Float64Array, given: ArrayLike<number>, mask: Float64Array) {
  for (let d = 0; d < state.length; d++) if (mask[d] === 1) state[d] = given[d];
}

/** V^T w for each query's final weights: [B, Dv]. */
export function valuesReadout(V: Mat, weights: Mat): Mat {
  const B = weights.rows, M = V.rows, Dv = V.cols;
  const out = new Float64Array(B * Dv);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < M; i++) {
      const w = weights.data[b * weights.cols + i];
      if (w === 0) continue;
      for (let j = 0; j < Dv; j++) out[b * Dv + j] += w * V.data[i * Dv + j];
    }
  }
  return { rows: B, cols: Dv, data: out };
}
