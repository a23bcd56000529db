// `hopc tune`: measure every candidate run choice of a model on this adapter, at one shape, and
// keep the fastest that agrees with the float64 reference in a plan cache.
//
//   const result = await tune(model, { M, D, B }, ctx);   // candidates timed round-robin
//   await writeTuned(result.key, entryOf(result));        // what the CLI does
//   const choices = await lookupTuned(ctx.info, model, M, D, B); // RunChoices or null
//
// The cache is one JSON file under Deno ($HOPC_PLAN_CACHE, else $XDG_CACHE_HOME/hopc/plans.json,
// else $HOME/.cache/hopc/plans.json) and localStorage key `hopc.plans` in a browser. Keys bucket
// shapes by powers of two, so nearby shapes share a tuned plan; a tuned plan is a preference, and
// a caller must fall back to the rules where it does not load at another shape of its bucket.
import { HopError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { kernelChoices } from "../plan/choices.ts";
import { gpuUnsupported } from "../plan/plan.ts";
import { loadReference, retrieveReference } from "../reference/interpreter.ts";
import { syntheticGraph } from "../extras.ts";
import { modelError } from "../shapes.ts";
import { blockedParts } from "../wgsl/blocked_parts.ts";
import type { GpuContext } from "./device.ts";
import { load, type Retriever, type RunChoices } from "./retriever.ts";
import { tuneKey } from "./plan_cache.ts";
import { PRIVATE_D4 } from "./blocked/plan.ts";

export {
  entryOf,
  LOCAL_STORAGE_KEY,
  lookupTuned,
  planCachePath,
  readTuned,
  shapeBucket,
  type TunedEntry,
  tuneKey,
  writeTuned,
} from "./plan_cache.ts";

/** One run choice the tuner measures. */
export interface Candidate {
  /** Short and unique among a model's candidates, e.g. `threePass q8 r8 wg64`. */
  label: string;
  choices: RunChoices;
}

/** Largest error (relative to the largest reference entry) a candidate may have. */
export const TUNE_TOLERANCE = 1e-3;
/** Queries of the synthetic batch checked against the float64 reference. */
const CHECKED_QUERIES = 2;

/** Why a model has nothing to tune (it has no GPU lowering), or null when it has candidates. */
export function nothingToTune(model: Model): string | null {
  const unsupported = gpuUnsupported(model);
  return unsupported ? `nothing to tune: ${unsupported}` : null;
}

/** Throws the model's "nothing to tune" diagnostic (exit 1 in the CLI) when it has no candidates. */
export function checkTunable(model: Model): void {
  const why = nothingToTune(model);
  if (why) {
    throw modelError(model, "memory", why, "run it with --device cpu (the float64 reference)");
  }
}

/**
 * The candidate run choices of a model: the blocked kernels' three-pass schedule at 4 and 8
 * queries per thread and two row blocks (1 and 2 for random masks, whose short blocks skip more
 * rows, else 4 and 8) with 16 threads, the largest block at 8 queries also with 64 threads and
 * with X staged through workgroup tiles (the GPU design), and the fused schedule for the online
 * maps. The one-workgroup-per-query kernel is not among them:
 * it was slower than every blocked plan at every measured shape on llvmpipe (179 ms against
 * 19 ms at (1024, 64, 64)), and its single entry point with every step inlined takes 68-167 s to
 * compile on Mesa's GL path (bench/compile_time.ts). Empty for a model without a GPU lowering.
 */
export function candidates(model: Model, D?: number): Candidate[] {
  if (nothingToTune(model) !== null || blockedParts(model) === null) return [];
  const random = model.mask.kind === "random";
  const rowBlocks = random ? [1, 2] : [4, 8];
  const out: Candidate[] = [];
  const blocked = (
    schedule: "fused" | "threePass",
    queriesPerThread: 4 | 8,
    rowBlock: number,
    workgroupSize: number,
  ): Candidate => ({
    label: `${schedule} q${queriesPerThread} r${rowBlock} wg${workgroupSize}`,
    choices: {
      kernel: "blocked",
      blocked: { schedule, queriesPerThread, rowBlock, workgroupSize },
    },
  });
  for (const q of [4, 8] as const) {
    for (const rb of rowBlocks) out.push(blocked("threePass", q, rb, 16));
  }
  out.push(blocked("threePass", 8, rowBlocks[rowBlocks.length - 1], 64));
  // X staged through workgroup tiles in the score pass: the GPU design, a candidate everywhere.
  const tiled = blocked("threePass", 8, rowBlocks[rowBlocks.length - 1], 64);
  out.push({
    label: `${tiled.label} tiled`,
    choices: { ...tiled.choices, blocked: { ...tiled.choices.blocked, tile: "workgroup" } },
  });
  // The fused schedule only where its first compile stays short (D <= 4 PRIVATE_D4).
  const fusedFits = D === undefined || Math.ceil(D / 4) <= PRIVATE_D4;
  if (kernelChoices(model).family === "online" && fusedFits) {
    out.push(blocked("fused", 4, 8, 16));
  }
  return out;
}

export interface CandidateResult {
  label: string;
  choices: RunChoices;
  /** Median of the timed calls (one submission and readback each), or null if rejected. */
  ms: number | null;
  /** Max |state - reference| / max |reference| on the checked queries (null: it did not run). */
  error: number | null;
  /** Why it may not be chosen (it did not load, or disagreed with the reference). */
  rejected?: string;
  /** Timed calls. */
  calls: number;
  /** The warm-up call (pipeline compilation included), ms. */
  warmupMs: number | null;
}

export interface TuneResult {
  key: string;
  adapter: string;
  model: string;
  shape: { M: number; D: number; B: number };
  winner: { label: string; choices: RunChoices; ms: number };
  results: CandidateResult[];
}

export interface TuneOptions {
  /** Seconds of timed calls per candidate (default 1; at least 3 calls each). */
  minTime?: number;
  /** Progress lines (one per candidate loaded, and the timing rounds). */
  log?: (line: string) => void;
  /** A status that changes as the timing rounds go (a progress line; see src/cli/progress.ts). */
  status?: (text: string) => void;
  /** Only the candidates whose label passes (tests; default all). */
  filter?: (label: string) => boolean;
  /** Seed of the synthetic data (default 1). */
  seed?: number;
}

/** Standard normal draws (Box-Muller over mulberry32), deterministic in the seed. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Synthetic data: M unit-norm random memories and B queries, each a memory plus noise of norm
 * about 0.3 (entries exact in float32, so the GPU and the reference see the same numbers).
 */
export function syntheticData(M: number, D: number, B: number, seed = 1): { X: Mat; Q: Mat } {
  const g = gaussian(seed);
  const X = new Float64Array(M * D);
  for (let i = 0; i < M; i++) {
    let n = 0;
    for (let d = 0; d < D; d++) {
      const v = g();
      X[i * D + d] = v;
      n += v * v;
    }
    n = Math.sqrt(n) || 1;
    for (let d = 0; d < D; d++) X[i * D + d] = Math.fround(X[i * D + d] / n);
  }
  const Q = new Float64Array(B * D);
  const noise = 0.3 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    const i = (b * 7919) % M;
    for (let d = 0; d < D; d++) Q[b * D + d] = Math.fround(X[i * D + d] + noise * g());
  }
  return { X: { rows: M, cols: D, data: X }, Q: { rows: B, cols: D, data: Q } };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** max |a - b| / max |b| over the first n entries (Infinity where a is not finite). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let err = 0, scale = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale > 0 ? err / scale : err;
}

/** An error in one line (a HopError's first diagnostic without the model prefix), shortened. */
function reason(e: unknown): string {
  const text = e instanceof HopError && e.diagnostics.length > 0
    ? e.diagnostics[0].message.replace(/^model `[^`]*`: /, "")
    : e instanceof Error
    ? e.message
    : String(e);
  const line = text.replace(/\s*\n\s*/g, " ").replace(/[:\s]+$/, "").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * Tune `model` at one shape: every candidate is loaded with the same synthetic data and run once
 * (compiling its pipelines); its states on the first queries are checked against the float64
 * reference, and a candidate off by TUNE_TOLERANCE or more is rejected. The others are timed in
 * round-robin rounds (one call each per round, so drifting load affects all alike) until each has
 * at least 3 calls and about `minTime` seconds; the fastest median wins.
 */
export async function tune(
  model: Model,
  shape: { M: number; D: number; B: number },
  ctx: GpuContext,
  opts: TuneOptions = {},
): Promise<TuneResult> {
  checkTunable(model);
  const { M, D, B } = shape;
  for (const [name, n] of Object.entries(shape)) {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`tune: ${name} = ${n} is not a positive integer`);
    }
  }
  const minTime = opts.minTime ?? 1;
  const log = opts.log ?? (() => {});
  const all = candidates(model, D).filter((c) => opts.filter?.(c.label) ?? true);
  const { X, Q } = syntheticData(M, D, B, opts.seed ?? 1);
  const nq = Math.min(CHECKED_QUERIES, B);
  const Qc: Mat = { rows: nq, cols: D, data: Q.data.slice(0, nq * D) };
  const graph = syntheticGraph(model, M); // a directed cycle for a model that reads a graph
  // A learned similarity is fitted once here (the reference's load) and shared by every candidate.
  const loadedRef = loadReference(model, X, { graph });
  const fit = loadedRef.fit ?? undefined;
  const reference = retrieveReference(model, X, Qc, loadedRef, { graph }).states.data;

  const results: CandidateResult[] = [];
  const live: { result: CandidateResult; r: Retriever; times: number[]; spent: number }[] = [];
  try {
    for (const c of all) {
      const result: CandidateResult = {
        label: c.label,
        choices: c.choices,
        ms: null,
        error: null,
        calls: 0,
        warmupMs: null,
      };
      results.push(result);
      let r: Retriever;
      try {
        r = await load(model, X, ctx, c.choices, { graph, fit });
      } catch (e) {
        result.rejected = `not allowed: ${reason(e)}`;
        log(`${c.label}: ${result.rejected}`);
        continue;
      }
      const plan = r.blockedPlan;
      const asked = c.choices.blocked;
      if (asked?.schedule && plan && plan.schedule !== asked.schedule) {
        result.rejected = `not allowed: ${plan.notes.join("; ") || `runs ${plan.schedule}`}`;
        r.destroy();
        log(`${c.label}: ${result.rejected}`);
        continue;
      }
      try {
        const t = performance.now();
        const out = await r.retrieve(Q);
        result.warmupMs = performance.now() - t;
        result.error = relativeError(out.states, reference, nq * D);
      } catch (e) {
        result.rejected = `failed: ${reason(e)}`;
        r.destroy();
        log(`${c.label}: ${result.rejected}`);
        continue;
      }
      if (!(result.error < TUNE_TOLERANCE)) {
        result.rejected = `disagrees with the float64 reference: error ${
          result.error.toExponential(2)
        } >= ${TUNE_TOLERANCE}`;
        r.destroy();
        log(`${c.label}: ${result.rejected}`);
        continue;
      }
      log(
        `${c.label}: first call ${result.warmupMs.toFixed(0)} ms (compile), error ${
          result.error.toExponential(2)
        }`,
      );
      live.push({ result, r, times: [], spent: 0 });
    }

    // Round-robin timing: a candidate leaves the rounds once it has 3 calls and minTime seconds.
    const done = (l: (typeof live)[number]) =>
      l.times.length >= 1000 || (l.times.length >= 3 && l.spent >= minTime * 1000);
    for (let round = 0; live.some((l) => !done(l)); round++) {
      const left = live.filter((l) => !done(l)).length;
      opts.status?.(
        `timing round ${round + 1}: ${left} of ${live.length} candidate(s) still timing`,
      );
      for (const l of live) {
        if (done(l)) continue;
        const t = performance.now();
        try {
          await l.r.retrieve(Q);
        } catch (e) {
          l.result.rejected = `failed: ${reason(e)}`;
          l.times.length = 1000; // leaves the rounds
          continue;
        }
        const dt = performance.now() - t;
        l.times.push(dt);
        l.spent += dt;
      }
    }
    for (const l of live) {
      if (l.result.rejected) {
        l.times = [];
        continue;
      }
      l.result.ms = median(l.times);
      l.result.calls = l.times.length;
      log(`${l.result.label}: ${l.result.ms.toFixed(3)} ms (median of ${l.times.length})`);
    }
  } finally {
    for (const l of live) l.r.destroy();
  }

  const ok = results.filter((r) => !r.rejected && r.ms !== null);
  if (ok.length === 0) {
    throw modelError(
      model,
      "similarity",
      `no candidate kernel ran within ${TUNE_TOLERANCE} of the float64 reference at M = ${M}, D = ${D}, B = ${B} (${
        results.map((r) => `${r.label}: ${r.rejected}`).join("; ") || "no candidates"
      })`,
      "the rules (no tuned plan) stay in use",
    );
  }
  const best = ok.reduce((a, b) => (b.ms! < a.ms! ? b : a));
  return {
    key: tuneKey(ctx.info, model, M, D, B),
    adapter: ctx.info,
    model: model.name,
    shape: { M, D, B },
    winner: { label: best.label, choices: best.choices, ms: best.ms! },
    results,
  };
}
