// `hopc bench FILE.hop --shape M,D,B`: how fast the user's model retrieves on this adapter. The
// memories and queries are random (unit-norm memories, queries near them, from --seed), the kernels
// are the ones a run would use (the rules, or a plan `hopc tune` cached), and the timing is the
// shared one (src/runtime/timing.ts): one warm-up call that compiles the pipelines, not counted,
// then calls until at least 3 and --min-time seconds; the median is reported. The first call's
// states are checked once against the float64 reference, so a fast wrong kernel is not a result.
import type { Model } from "../ir.ts";
import type { GpuContext } from "../runtime/device.ts";
import { load } from "../runtime/retriever.ts";
import { syntheticData } from "../runtime/tune.ts";
import { relativeError, timeCalls } from "../runtime/timing.ts";
import { loadReference, retrieveReference } from "../reference/interpreter.ts";
import { syntheticGraph } from "../extras.ts";
import type { Progress } from "./progress.ts";

/** Largest state error (relative to the largest reference entry) a benchmarked kernel may have. */
export const BENCH_TOLERANCE = 1e-3;
/** Queries checked against the reference (the reference costs O(M D) per query per step). */
const CHECKED_QUERIES = 2;

export interface BenchOptions {
  shape: { M: number; D: number; B: number };
  /** Seconds of timed calls (default 1). */
  minTime?: number;
  /** Run this many fixed steps instead of the model's `steps`. */
  steps?: number;
  /** Seed of the random data (default 1). */
  seed?: number;
}

export interface BenchResult {
  model: string;
  adapter: string;
  shape: { M: number; D: number; B: number };
  seed: number;
  /** Steps per query: the model's (or --steps); `until` models report the mean steps run. */
  steps: number;
  plan: {
    kernel: string;
    family: string;
    source: "rule" | "tuned";
    /** The blocked kernels' choices, as `hopc tune` labels them (null: another kernel family). */
    label: string | null;
  };
  /** Median ms per retrieve call (one submission and readback of all B queries). */
  ms: number;
  min: number;
  max: number;
  calls: number;
  /** The warm-up call, pipeline compilation included (not counted in ms). */
  warmupMs: number;
  /** 4 M D B steps / time: the two matrix products of each step. */
  gflops: number;
  /** Max |gpu - reference| / max |reference| over the checked queries. */
  error: number;
  checkedQueries: number;
  ok: boolean;
}

/** Time `model` at one shape on `ctx`; progress as calls go by. */
export async function bench(
  model: Model,
  ctx: GpuContext,
  options: BenchOptions,
  progress: Progress,
): Promise<BenchResult> {
  const { M, D, B } = options.shape;
  const seed = options.seed ?? 1;
  const minTime = options.minTime ?? 1;
  const run: Model = options.steps === undefined
    ? model
    : { ...model, steps: { kind: "fixed", count: options.steps } };
  const { X, Q } = syntheticData(M, D, B, seed);
  progress.update(`hopc: bench: loading \`${run.name}\` (M = ${M}, D = ${D})`);
  const graph = syntheticGraph(run, M); // a directed cycle for a model that reads a graph
  const r = await load(run, X, ctx, { batchHint: B }, { graph });
  try {
    progress.update("hopc: bench: first call (compiles the pipelines)");
    const { first, timing } = await timeCalls(
      () => r.retrieve(Q),
      minTime,
      (calls, elapsed) =>
        progress.update(
          `hopc: bench: ${calls} timed call(s), ${(elapsed / 1000).toFixed(1)} s of ${minTime} s`,
        ),
    );
    progress.update("hopc: bench: float64 reference");
    const nq = Math.min(CHECKED_QUERIES, B);
    const Qc = { rows: nq, cols: D, data: Q.data.slice(0, nq * D) };
    // A learned similarity's reference uses the load's fit (made once, not again here).
    const loaded = loadReference(run, X, { graph, fit: r.fit ?? undefined });
    const exact = retrieveReference(run, X, Qc, loaded, { graph }).states.data;
    const error = [...first.states.subarray(0, nq * D)].every(Number.isFinite)
      ? relativeError(first.states, exact, nq * D)
      : Infinity;
    progress.done();
    const steps = first.stepsRun.reduce((a, b) => a + b, 0) / B;
    const blocked = r.blockedPlan;
    return {
      model: run.name,
      adapter: ctx.info,
      shape: { M, D, B },
      seed,
      steps,
      plan: {
        kernel: blocked ? "blocked" : r.plan.kernel,
        family: r.plan.family,
        source: blocked?.source ?? r.plan.source,
        label: blocked
          ? `${blocked.schedule} q${blocked.queriesPerThread} r${blocked.rowBlock} wg${blocked.workgroupSize}`
          : null,
      },
      ms: timing.ms,
      min: timing.min,
      max: timing.max,
      calls: timing.n,
      warmupMs: timing.warmupMs,
      gflops: (4 * M * D * B * steps) / timing.ms / 1e6,
      error,
      checkedQueries: nq,
      ok: error < BENCH_TOLERANCE,
    };
  } finally {
    progress.done();
    r.destroy();
  }
}

/** The result for people: what ran, how fast, and whether it agreed with the reference. */
export function formatBench(r: BenchResult): string[] {
  const plan = r.plan.label ? `${r.plan.kernel} ${r.plan.label}` : r.plan.kernel;
  return [
    `model \`${r.model}\` at M = ${r.shape.M}, D = ${r.shape.D}, B = ${r.shape.B}, ${
      Number.isInteger(r.steps) ? r.steps : r.steps.toFixed(2)
    } step(s), seed ${r.seed}, on ${r.adapter}`,
    `  plan:        ${plan} (${r.plan.family} family, ${r.plan.source})`,
    `  first call:  ${r.warmupMs.toFixed(1)} ms (pipeline compilation included; not counted)`,
    `  time:        ${fmtMs(r.ms)} ms per call (median of ${r.calls}; min ${fmtMs(r.min)}, max ${
      fmtMs(r.max)
    })`,
    `  rate:        ${r.gflops.toPrecision(3)} GFLOP/s (4 M D B steps / time)`,
    `  reference:   error ${r.error.toExponential(1)} on the first ${r.checkedQueries} quer${
      r.checkedQueries === 1 ? "y" : "ies"
    } (relative to the largest entry; tolerance ${BENCH_TOLERANCE}): ${r.ok ? "ok" : "DISAGREES"}`,
  ];
}

const fmtMs = (ms: number) => ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(3);
