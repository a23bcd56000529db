// Free and sequential recall over a model (MATH.md 2.7 E2, 3.7, 3.8; the HFY paper's recall tasks,
// deep-spin/HFYN scripts/memory_retrieval_modeling.py `free_recall`, `seq_recall`). The model
// supplies the normalizer (its entropy) and beta; recall is a protocol of R recalls (default N,
// the number of memories) over it, starting from q = x_start or a given state:
//
//   free         p = ŷ(β(Xq − γ avg));  avg ← ρ p + (1 − ρ) avg;  q = Xᵀp
//                then `settle` plain steps q ← Xᵀ ŷ(β' X q); record argmax p (the last p)
//   csparsemax   `settle` steps p = csparsemax(β X q, u), q = Xᵀp (MATH.md 3.8); u ← max(u − p, 0);
//                record argmax p. p ≤ u, so Σu falls by Σp = 1 per recall: recall r finds Σu = N − r,
//                R ≤ N recalls are feasible (the last one has p = u); a recall that finds Σu < 1
//                stops the protocol (`stopped` says where and why).
//   sequential   pair = SequenceBudget SparseMAP(β(Xq − γ avg); k = 2, edge score w) (./sequence_budget.ts);
//                q = Xᵀpair − q; `settle` steps q ← Xᵀ ŷ(β' X q); avg ← ρ(pair − ω p) + (1 − ρ) avg;
//                record argmax p
//
// Defaults are the authors': γ = 1e9, ρ = 0.001, ω = 1.1, w = 1e8, settle = 20, β' = β. (Their
// sequential settle steps call entmax(XQ) without beta, i.e. β' = 1: pass settleBeta = 1 to run
// exactly that; bench/recall.ts does.) Metrics (./metrics.ts): the unique memory ratio of the
// recalled indices, and their Levenshtein coefficient against start+1, ..., start+R (the
// authors' [1..N] for start 0).
//
// Models: discrete memory, dot similarity, identity post, no mask, the Fenchel-Young separation,
// no values (the HFY setting the protocol is defined for); others are refused. The reference runs
// in float64 (the settle steps through the interpreter, src/reference/interpreter.ts). On the GPU
// each retrieval is a GPU retrieval: the penalty step carries -γ avg as one more key column,
// x̃_i = [x_i, −γ avg_i], q̃ = [q, 1], so β x̃_i·q̃ = β(x_i·q − γ avg_i) with the model's own kernels
// (one step, the state's first D entries are Xᵀp); the settle steps are one GPU retrieval of
// `settle` steps. The bookkeeping (avg, u, argmax) and the sequence-budget step stay on the host
// in float64, as they are cheap per recall. csparsemax steps run on the GPU in a kernel of their
// own (./csparsemax_gpu.ts: scores, bisection on τ, clip to [0, u], readout in one dispatch per
// step), the bounds u kept and checked (Σu >= 1) on the host.
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { inputError } from "../diagnostics.ts";
import { modelError } from "../shapes.ts";
import { entropyPart } from "../parts/registry.ts";
import { loadReference, readout } from "../reference/interpreter.ts";
import { gpuUnsupported } from "../plan/plan.ts";
import { load as loadGpu, type RunContext } from "../runtime/retriever.ts";
import { constrainedSparsemax, FEASIBILITY_TOL } from "./csparsemax.ts";
import { csparsemaxGpuUnsupported, loadCsparsemaxGpu } from "./csparsemax_gpu.ts";
import { sequenceBudgetSparseMap } from "./sequence_budget.ts";
import { levenshteinCoefficient, sequenceTarget, uniqueMemoryRatio } from "./metrics.ts";

export const RECALL_MODES = ["free", "csparsemax", "sequential"] as const;
export type RecallMode = typeof RECALL_MODES[number];

export interface RecallOptions {
  mode: RecallMode;
  /** Start from memory `start` (an index) or from a given state (length D). Default 0. */
  start?: number | Float64Array;
  /** Recalls to run (default N). */
  recalls?: number;
  /** Weight of the average penalty, γ > 0 (default 1e9). */
  gamma?: number;
  /** avg ← rate · p + (1 − rate) · avg, 0 < rate ≤ 1 (default 0.001: a decay of 0.999). */
  rate?: number;
  /** Sequential recall's bonus for the recalled memory, ω (default 1.1). */
  omega?: number;
  /** Sequential recall's score of a consecutive pair, w > 0 (default 1e8). */
  edgeScore?: number;
  /** Plain steps after each recall's first step (default 20). */
  settle?: number;
  /** β of the settle steps (default the model's). */
  settleBeta?: number;
}

export interface RecallResult {
  mode: RecallMode;
  device: "cpu" | "gpu";
  /** Index of the memory recalled at each recall (argmax of the last weights). */
  recalled: number[];
  /** |set(recalled)| / N. */
  uniqueRatio: number;
  /** 1 − lev(recalled, start+1..start+R) / R; null when the start was a state, not an index. */
  levenshtein: number | null;
  /** The state after each recall, R x D. */
  states: Mat;
  /** Where the protocol stopped early (csparsemax with Σu < 1), else null. */
  stopped: { recall: number; reason: string } | null;
  /** The options that ran, with their defaults filled in. */
  options: Required<Omit<RecallOptions, "start">> & { start: number | "state" };
}

/** One retrieval engine: the float64 reference or the GPU. */
interface Engine {
  device: "cpu" | "gpu";
  /** p = ŷ(β X q + bias), returns Xᵀp and p. */
  biased(q: Float64Array, bias: Float64Array): Promise<{ q: Float64Array; p: Float64Array }>;
  /** `settle` plain steps at β'; the final state and weights (q itself and null for 0 steps). */
  settle(q: Float64Array): Promise<{ q: Float64Array; p: Float64Array | null }>;
  /** `count` steps p = csparsemax(β X q, u), q = Xᵀp, with Σu > 1 (the host checked). */
  constrained(
    q: Float64Array,
    u: Float64Array,
    count: number,
  ): Promise<{ q: Float64Array; p: Float64Array }>;
  destroy(): void;
}

/** Why this model cannot be recalled over, or null. */
export function recallUnsupported(model: Model): string | null {
  return recallUnsupportedField(model)?.reason ?? null;
}

/** The model field that keeps recall from running over it, and why. */
function recallUnsupportedField(model: Model): { field: string; reason: string } | null {
  if (model.memory.kind !== "discrete") {
    return { field: "memory", reason: "recall needs a discrete memory" };
  }
  if (model.similarity.kind !== "dot") {
    return {
      field: "similarity",
      reason:
        `recall is defined for dot similarity (the HFY setting), not \`${model.similarity.kind}\``,
    };
  }
  if (model.post.kind !== "identity") {
    return {
      field: "post",
      reason: `recall is defined for post identity (q = X^T p), not \`${model.post.kind}\``,
    };
  }
  if (model.mask.kind !== "none") return { field: "mask", reason: "recall takes no mask" };
  if (model.separation.kind !== "fenchel_young") {
    return {
      field: "separation",
      reason: "recall needs the entropy's normalizer (no separation function)",
    };
  }
  return null;
}

/** Checks the options; throws an input error naming what is wrong. Returns them filled in. */
export function checkRecallOptions(
  model: Model,
  X: Mat,
  opts: RecallOptions,
): RecallResult["options"] & { startState: Float64Array; startIndex: number | null } {
  const unsupported = recallUnsupportedField(model);
  if (unsupported) throw modelError(model, unsupported.field, unsupported.reason);
  if (!(RECALL_MODES as readonly string[]).includes(opts.mode)) {
    throw inputError(
      "recall",
      `unknown recall mode \`${opts.mode}\` (modes: ${RECALL_MODES.join(", ")})`,
    );
  }
  const N = X.rows, D = X.cols;
  if (N < 1 || D < 1) throw inputError("memories", `memories have shape [${N}, ${D}]`);
  if (opts.mode === "sequential" && N < 2) {
    throw inputError("memories", "sequential recall needs at least 2 memories (a pair)");
  }
  const bad = X.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw inputError(
      "memories",
      `${Number.isNaN(X.data[bad]) ? "NaN" : "an infinity"} at row ${Math.floor(bad / D)}, column ${
        bad % D
      }`,
      "hopc needs finite data: clean or impute the array first",
    );
  }
  if (opts.mode === "csparsemax" && !isSparsemax(model)) {
    throw modelError(
      model,
      "entropy",
      "recall mode csparsemax is constrained sparsemax: the model's entropy must be sparsemax (or tsallis(alpha = 2))",
    );
  }
  const num = (
    name: string,
    v: number | undefined,
    dflt: number,
    ok: (v: number) => boolean,
    want: string,
  ) => {
    const x = v ?? dflt;
    if (!Number.isFinite(x) || !ok(x)) {
      throw inputError("recall", `${name} must be ${want}, got ${x}`);
    }
    return x;
  };
  const gamma = num("gamma", opts.gamma, 1e9, (v) => v > 0, "a positive number");
  const rate = num("rate", opts.rate, 0.001, (v) => v > 0 && v <= 1, "in (0, 1]");
  const omega = num("omega", opts.omega, 1.1, () => true, "a finite number");
  const edgeScore = num("edge score", opts.edgeScore, 1e8, (v) => v > 0, "a positive number");
  const settle = num(
    "settle",
    opts.settle,
    20,
    (v) => Number.isInteger(v) && v >= 0 && v <= 10000,
    "an integer from 0 to 10000",
  );
  const settleBeta = num("settle beta", opts.settleBeta, model.beta, (v) => v > 0, "positive");
  const recalls = num(
    "recalls",
    opts.recalls,
    N,
    (v) => Number.isInteger(v) && v >= 1 && v <= 1_000_000,
    "a positive integer",
  );
  if (opts.mode === "csparsemax" && settle < 1) {
    throw inputError("recall", "csparsemax recall needs settle >= 1 (its steps are the recall)");
  }
  let startState: Float64Array, startIndex: number | null;
  const start = opts.start ?? 0;
  if (typeof start === "number") {
    if (!Number.isInteger(start) || start < 0 || start >= N) {
      throw inputError(
        "recall",
        `start index ${start} is out of range: there are ${N} memories (0..${N - 1})`,
      );
    }
    startIndex = start;
    startState = X.data.slice(start * D, (start + 1) * D);
  } else {
    if (start.length !== D) {
      throw inputError(
        "start",
        `the start state has ${start.length} entries but the memories have D = ${D}`,
        `the start must be [1, ${D}]`,
      );
    }
    const b = start.findIndex((v) => !Number.isFinite(v));
    if (b >= 0) {
      throw inputError("start", `${Number.isNaN(start[b]) ? "NaN" : "an infinity"} at column ${b}`);
    }
    startIndex = null;
    startState = Float64Array.from(start);
  }
  return {
    mode: opts.mode,
    gamma,
    rate,
    omega,
    edgeScore,
    settle,
    settleBeta,
    recalls,
    start: startIndex ?? "state",
    startState,
    startIndex,
  };
}

function isSparsemax(model: Model): boolean {
  const e = model.entropy as { kind: string; alpha?: number };
  return e.kind === "sparsemax" || (e.kind === "tsallis" && e.alpha === 2);
}

/** Why `recall` on the GPU is refused for this model (null: it runs there). */
export function recallGpuUnsupported(model: Model, _mode: RecallMode): string | null {
  return gpuUnsupported(model);
}

/**
 * Why `recall` cannot run these memories on this adapter (null: it can): csparsemax runs one
 * workgroup per step (./csparsemax_gpu.ts), within the adapter's loop budget and one storage
 * binding.
 */
export function recallGpuUnsupportedOn(
  ctx: RunContext,
  model: Model,
  mode: RecallMode,
  X: { rows: number; cols: number },
): string | null {
  return recallGpuUnsupported(model, mode) ??
    (mode === "csparsemax" ? csparsemaxGpuUnsupported(ctx, X.rows, X.cols) : null);
}

/**
 * Runs the recall protocol. `gpu`: a run context (acquireDevice) to run each retrieval on the
 * GPU; without it, the float64 reference. Throws a HopError for bad input, before any work.
 */
export async function recall(
  model: Model,
  X: Mat,
  opts: RecallOptions,
  gpu?: RunContext,
): Promise<RecallResult> {
  const o = checkRecallOptions(model, X, opts);
  if (gpu) {
    const why = recallGpuUnsupported(model, o.mode);
    if (why) throw modelError(model, "entropy", why, "run it on the cpu (--device cpu)");
    const shape = recallGpuUnsupportedOn(gpu, model, o.mode, X);
    if (shape) throw inputError("memories", shape, "run it on the cpu (--device cpu)");
  }
  const engine = gpu
    ? await gpuEngine(model, X, o.mode, o.settle, o.settleBeta, gpu)
    : referenceEngine(
      model,
      X,
      o.settle,
      o.settleBeta,
    );
  try {
    return await run(model, X, o, engine);
  } finally {
    engine.destroy();
  }
}

async function run(
  model: Model,
  X: Mat,
  o: ReturnType<typeof checkRecallOptions>,
  engine: Engine,
): Promise<RecallResult> {
  const N = X.rows, D = X.cols, beta = model.beta;
  const avg = new Float64Array(N);
  const upper = new Float64Array(N).fill(1);
  const bias = new Float64Array(N);
  let q: Float64Array = o.startState.slice();
  const recalled: number[] = [];
  const states: number[][] = [];
  let stopped: RecallResult["stopped"] = null;
  const scoresOf = (state: Float64Array, b: number) => {
    const s = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let acc = 0;
      for (let d = 0; d < D; d++) acc += X.data[i * D + d] * state[d];
      s[i] = b * acc;
    }
    return s;
  };
  for (let r = 0; r < o.recalls; r++) {
    let p: Float64Array;
    if (o.mode === "free") {
      for (let i = 0; i < N; i++) bias[i] = -beta * o.gamma * avg[i];
      const first = await engine.biased(q, bias);
      for (let i = 0; i < N; i++) avg[i] = o.rate * first.p[i] + (1 - o.rate) * avg[i];
      const settled = await engine.settle(first.q);
      q = settled.q;
      p = settled.p ?? first.p;
    } else if (o.mode === "csparsemax") {
      let sum = 0;
      for (let i = 0; i < N; i++) sum += upper[i];
      let last: Float64Array | null = null;
      if (sum >= 1 - FEASIBILITY_TOL) {
        // Σu within float32's reach of 1 (the last of N recalls) is solved on the host in
        // float64: there p is u / Σu or close to it, and f32 bounds could sum below 1.
        const out = sum > 1 + 1e-4
          ? await engine.constrained(q, upper, o.settle)
          : await referenceConstrained(model, X, q, upper, o.settle);
        q = out.q;
        last = out.p;
      }
      if (last === null) {
        stopped = {
          recall: r,
          reason: `the upper bounds sum to ${
            sum.toPrecision(6)
          } < 1: constrained sparsemax has no feasible point (every memory's bound is used up)`,
        };
        break;
      }
      p = last;
      for (let i = 0; i < N; i++) upper[i] = Math.max(upper[i] - p[i], 0);
    } else {
      const s = scoresOf(q, beta);
      for (let i = 0; i < N; i++) s[i] -= beta * o.gamma * avg[i];
      const pair = sequenceBudgetSparseMap(s, { k: 2, edgeScore: o.edgeScore }).marginals;
      const next = readout(X, pair);
      for (let d = 0; d < D; d++) next[d] -= q[d];
      const settled = await engine.settle(next);
      q = settled.q;
      p = settled.p ?? pair;
      for (let i = 0; i < N; i++) {
        avg[i] = o.rate * (pair[i] - o.omega * p[i]) + (1 - o.rate) * avg[i];
      }
    }
    const bad = q.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw inputError(
        "memories",
        `recall ${r} produced a non-finite state (column ${bad}): the scores overflow`,
        "scale the memories down, or lower beta",
      );
    }
    recalled.push(argmax(p));
    states.push(Array.from(q));
  }
  const rows = states.length;
  const data = new Float64Array(rows * D);
  states.forEach((s, r) => data.set(s, r * D));
  return {
    mode: o.mode,
    device: engine.device,
    recalled,
    uniqueRatio: uniqueMemoryRatio(recalled, N),
    levenshtein: o.startIndex === null
      ? null
      : levenshteinCoefficient(recalled, sequenceTarget(o.startIndex, recalled.length)),
    states: { rows, cols: D, data },
    stopped,
    options: {
      mode: o.mode,
      gamma: o.gamma,
      rate: o.rate,
      omega: o.omega,
      edgeScore: o.edgeScore,
      settle: o.settle,
      settleBeta: o.settleBeta,
      recalls: o.recalls,
      start: o.start,
    },
  };
}

/** The first index of the largest entry. */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

function settleModel(model: Model, steps: number, beta: number): Model {
  return { ...model, beta, steps: { kind: "fixed", count: Math.max(1, steps) } };
}

/** `count` constrained-sparsemax steps in float64 (./csparsemax.ts); Σu >= 1 − tol. */
function referenceConstrained(
  model: Model,
  X: Mat,
  q: Float64Array,
  u: Float64Array,
  count: number,
): Promise<{ q: Float64Array; p: Float64Array }> {
  let p: Float64Array = new Float64Array(X.rows);
  for (let t = 0; t < count; t++) {
    const s = new Float64Array(X.rows);
    for (let i = 0; i < X.rows; i++) {
      let acc = 0;
      for (let d = 0; d < X.cols; d++) acc += X.data[i * X.cols + d] * q[d];
      s[i] = model.beta * acc;
    }
    p = constrainedSparsemax(s, u)!.p;
    q = readout(X, p);
  }
  return Promise.resolve({ q, p });
}

function referenceEngine(model: Model, X: Mat, settle: number, settleBeta: number): Engine {
  const entropy = entropyPart(model.entropy);
  const loaded = loadReference(settleModel(model, settle, settleBeta), X);
  return {
    device: "cpu",
    biased(q, bias) {
      const N = X.rows, D = X.cols;
      const s = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += X.data[i * D + d] * q[d];
        s[i] = model.beta * acc + bias[i];
      }
      const p = entropy.reference(s, model.entropy);
      return Promise.resolve({ q: readout(X, p), p });
    },
    settle(q) {
      let p: Float64Array | null = null;
      for (let t = 0; t < settle; t++) {
        const step = loaded.step(q, 0);
        q = step.next;
        p = step.weights;
      }
      return Promise.resolve({ q, p });
    },
    constrained: (q, u, count) => referenceConstrained(model, X, q, u, count),
    destroy() {},
  };
}

async function gpuEngine(
  model: Model,
  X: Mat,
  mode: RecallMode,
  settle: number,
  settleBeta: number,
  ctx: RunContext,
): Promise<Engine> {
  const N = X.rows, D = X.cols;
  if (mode === "csparsemax") {
    const cs = await loadCsparsemaxGpu(ctx, X, model.beta);
    const no = () => Promise.reject(new Error("csparsemax recall takes constrained steps only"));
    return {
      device: "gpu",
      biased: no,
      settle: no,
      constrained: (q, u, count) => cs.steps(q, u, count),
      destroy: () => cs.destroy(),
    };
  }
  const settler = settle > 0 ? await loadGpu(settleModel(model, settle, settleBeta), X, ctx) : null;
  const oneStep = settleModel(model, 1, model.beta);
  // [X | b / β]: one more key column holding the penalty, the query's extra entry is 1.
  const augmented: Mat = { rows: N, cols: D + 1, data: new Float64Array(N * (D + 1)) };
  for (let i = 0; i < N; i++) augmented.data.set(X.data.subarray(i * D, (i + 1) * D), i * (D + 1));
  return {
    device: "gpu",
    async biased(q, bias) {
      for (let i = 0; i < N; i++) augmented.data[i * (D + 1) + D] = bias[i] / model.beta;
      const query: Mat = { rows: 1, cols: D + 1, data: new Float64Array(D + 1) };
      query.data.set(q);
      query.data[D] = 1;
      // Loaded per call: the memories change with the penalty; the kernels are cached per device.
      const r = await loadGpu(oneStep, augmented, ctx);
      try {
        const out = await r.retrieve(query, { weights: true });
        return {
          q: Float64Array.from(out.states.subarray(0, D)),
          p: Float64Array.from(out.weights!),
        };
      } finally {
        r.destroy();
      }
    },
    constrained: () => Promise.reject(new Error("only csparsemax recall takes constrained steps")),
    async settle(q) {
      if (!settler) return { q, p: null };
      const out = await settler.retrieve({ rows: 1, cols: D, data: q }, { weights: true });
      return { q: Float64Array.from(out.states), p: Float64Array.from(out.weights!) };
    },
    destroy() {
      settler?.destroy();
    },
  };
}
