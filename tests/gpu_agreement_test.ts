// GPU (WebGPU, float32) against the float64 reference interpreter, over a pairwise covering design
// of the discrete models the GPU path lowers: entropy x similarity x post x steps x mask x beta x
// shape x data, every pair of options in at least one model (the full cross product is far too
// slow on a CPU Vulkan driver). The shapes exercise the plan's choices: M from 1 to a few thousand
// on both sides of the workgroup score-row capacity (M = capacity and capacity + 1, found with
// makePlan and the device's limits), D = 1, 3, 13, 67 (not multiples of 4), D = 700 and 1060 (few
// rows per X tile, more vec4 chunks than threads), B from 1 to 64. Then targeted tests: the sparse
// maps' margins, top-k ties (lowest index), random masks (kept sets bit for bit, including a hash
// exactly at the keep threshold), `until` step counts, B = 300, the pipeline cache, and the
// HopError of models with no GPU lowering.
//
// LANGUAGE.md section 2: states agree to 1e-4 of the largest entry of the reference output "on
// well-conditioned inputs". Conditioning is checked, not assumed: before a model is compared, the
// reference is run again on inputs jittered by 1e-6 (relative, per entry, exact duplicates kept
// exact), and the inputs are used only if that moves the states by < 1e-5 (relative), the weights
// by < 1e-5, no support (sparse maps) and no step count. Otherwise the next data seed is tried;
// where none is stable over the model's iterations (e.g. a top-k set that flips from step to step),
// the model is compared after one step instead, and the summary says so.
//
// The design and helpers are exported for tests/gpu_validation_test.ts.
import assert from "node:assert/strict";
import { checkText } from "../src/check.ts";
import { HopError } from "../src/diagnostics.ts";
import { type Model, sparseEntropy } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { hash3 } from "../src/parts/rng.ts";
import { topkIndices } from "../src/parts/mask/topk.ts";
import { type DeviceLimits, makePlan } from "../src/plan/plan.ts";
import { type RetrievalOutput, retrieveReference } from "../src/reference/interpreter.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { gpuContext, gpuTest as registerGpuTest } from "./helpers/gpu.ts";
import { type GpuResult, load } from "../src/runtime/retriever.ts";
import { blockedStats as pipelineStats } from "../src/runtime/blocked/run.ts";

// ---------------------------------------------------------------------------------------------
// The covering design (pure: no device needed to build it).

export const ENTROPIES = [
  "shannon",
  "tsallis(alpha = 1.25)",
  "tsallis(alpha = 1.5)",
  "tsallis(alpha = 3)",
  "sparsemax",
  "normmax(gamma = 2)",
  "normmax(gamma = 5)",
  "ksubsets(k = 1)",
  "ksubsets(k = 3)",
  "softmax1",
] as const;
export const SIMILARITIES = ["dot", "cosine", "euclidean", "manhattan"] as const;
export const POSTS = ["identity", "l2", "layernorm", "tanh"] as const;
export const STEPS = ["1", "3", "until(tol = 1e-5, max = 30)"] as const;
/** topk takes K = 1, M or ceil(M / 2); random takes keep = 0.05, 0.5 or 1 (by model index). */
export const MASKS = ["none", "topk", "random"] as const;
export const BETAS = [1e-3, 1, 16, 1e4] as const;
/**
 * Shape classes (M, D, B): tiny (1 or k, 1, 1), small (7, 3, 5), batch (61, 13, 64), wide (40,
 * 700 or 1060, 3), below / above (the score-row capacity and one more, D = 13 or 67, B = 3; online
 * models get the same M range).
 */
export const SHAPES = ["tiny", "small", "batch", "wide", "below", "above"] as const;
export const DATA = ["random", "ties"] as const;

export const FACTORS = {
  entropy: ENTROPIES,
  similarity: SIMILARITIES,
  post: POSTS,
  steps: STEPS,
  mask: MASKS,
  beta: BETAS,
  shape: SHAPES,
  data: DATA,
} as const;
export type FactorName = keyof typeof FACTORS;
export type Row = { [F in FactorName]: (typeof FACTORS)[F][number] };

/**
 * Pairs left out on purpose: tanh(beta z) with beta = 1e4 is sign(z) wherever |z| < 1e-3, so the
 * float32 rounding of z decides the output (ill-conditioned, not a GPU bug).
 */
export const CONSTRAINTS: ((r: Partial<Row>) => boolean)[] = [
  (r) => !(r.post === "tanh" && r.beta === 1e4),
  // A known float32 range limit, see the ignored test "KNOWN LIMITATION" below: softmax1 weights
  // all under e^-87 underflow to 0, and l2 of the zero readout is 0 rather than its direction.
  (r) => !(r.entropy === "softmax1" && r.post === "l2" && r.beta !== undefined && r.beta > 1),
];

function allowed(r: Partial<Row>): boolean {
  return CONSTRAINTS.every((c) => c(r));
}

/** Small deterministic PRNG (mulberry32). */
export function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates (Array.sort with a random comparator is not reproducible across V8's tiers). */
function shuffle<T>(a: T[], rng: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const NAMES = Object.keys(FACTORS) as FactorName[];
const levelIndex = (f: FactorName, v: unknown) => (FACTORS[f] as readonly unknown[]).indexOf(v);
const pairId = (f: number, a: number, g: number, b: number) =>
  f < g ? `${f}:${a}|${g}:${b}` : `${g}:${b}|${f}:${a}`;

/** Every allowed pair of (factor, level) that a covering design must contain. */
export function requiredPairs(): Set<string> {
  const need = new Set<string>();
  NAMES.forEach((f, i) => {
    NAMES.forEach((g, j) => {
      if (j <= i) return;
      FACTORS[f].forEach((a, ai) => {
        FACTORS[g].forEach((b, bi) => {
          if (allowed({ [f]: a, [g]: b } as Partial<Row>)) need.add(pairId(i, ai, j, bi));
        });
      });
    });
  });
  return need;
}

export function pairsOf(row: Row): string[] {
  const idx = NAMES.map((f) => levelIndex(f, row[f]));
  const out: string[] = [];
  for (let i = 0; i < NAMES.length; i++) {
    for (let j = i + 1; j < NAMES.length; j++) out.push(pairId(i, idx[i], j, idx[j]));
  }
  return out;
}

/**
 * Greedy pairwise (AETG-like) design, deterministic: each row starts from an uncovered pair and
 * fills the other factors one at a time with the level that covers the most new pairs; the best
 * of a few such candidates is kept.
 */
export function coveringDesign(seed = 7): Row[] {
  const rng = rngOf(seed);
  const uncovered = requiredPairs();
  const rows: Row[] = [];
  while (uncovered.size > 0) {
    let best: { row: Row; gain: number } | undefined;
    for (let attempt = 0; attempt < 24; attempt++) {
      const start = [...uncovered][Math.floor(rng() * uncovered.size)];
      const [[fi, ai], [gi, bi]] = start.split("|").map((p) => p.split(":").map(Number));
      const row: Record<string, unknown> = {
        [NAMES[fi]]: FACTORS[NAMES[fi]][ai],
        [NAMES[gi]]: FACTORS[NAMES[gi]][bi],
      };
      for (const f of shuffle(NAMES.filter((_, k) => k !== fi && k !== gi), rng)) {
        let bestLevel: unknown, bestGain = -1;
        for (const level of shuffle([...FACTORS[f]] as unknown[], rng)) {
          if (!allowed({ ...row, [f]: level } as Partial<Row>)) continue;
          const k = NAMES.indexOf(f), li = levelIndex(f, level);
          let gain = 0;
          for (const [g, v] of Object.entries(row)) {
            const j = NAMES.indexOf(g as FactorName);
            if (uncovered.has(pairId(k, li, j, levelIndex(g as FactorName, v)))) gain++;
          }
          if (gain > bestGain) [bestLevel, bestGain] = [level, gain];
        }
        row[f] = bestLevel;
      }
      const full = row as Row;
      const gain = pairsOf(full).filter((p) => uncovered.has(p)).length;
      if (!best || gain > best.gain) best = { row: full, gain };
    }
    rows.push(best!.row);
    for (const p of pairsOf(best!.row)) uncovered.delete(p);
  }
  return rows;
}

/** One model of the design with its data shapes. */
export interface Case {
  row: Row;
  name: string;
  /** The model block, in the hop language. */
  hop: string;
  M: number;
  D: number;
  B: number;
  model: Model;
}

function maskText(row: Row, i: number, M: number): string {
  if (row.mask === "topk") return `topk(k = ${[1, M, Math.ceil(M / 2)][i % 3]})`;
  if (row.mask === "random") return `random(keep = ${[0.05, 0.5, 1][i % 3]}, seed = ${i * 17})`;
  return "none";
}

/** The fields of a model, as written in the language. */
export interface ModelFields {
  similarity: string;
  entropy: string;
  post: string;
  beta: number;
  steps: string;
}

export function modelText(name: string, row: ModelFields, mask: string): string {
  return `model ${name} {
  similarity ${row.similarity}
  entropy    ${row.entropy}
  mask       ${mask}
  post       ${row.post}
  beta       ${row.beta}
  steps      ${row.steps}
}
`;
}

/** The one model of a `.hop` text (asserting the checker accepts it). */
export function checkOne(text: string): Model {
  const { models, diagnostics } = checkText(text, "gpu_agreement.hop");
  assert.equal(diagnostics.length, 0, JSON.stringify(diagnostics) + "\n" + text);
  assert.equal(models.length, 1);
  return models[0];
}

/** The largest M whose score row stays in workgroup memory for this model and D. */
export function rowCapacityOf(model: Model, D: number, limits: DeviceLimits): number {
  let m = model;
  if (makePlan(model, { M: 1, D }, limits).family === "online") {
    // Online plans keep no score row: take a thresholded twin's capacity for the M range.
    m = { ...model, entropy: { kind: "sparsemax" } };
  }
  return makePlan(m, { M: 1, D }, limits).rowCapacity;
}

/** Models and shapes of the design; `limits` decides where the score-row boundary is. */
export function designCases(limits: DeviceLimits, rows = coveringDesign()): Case[] {
  return rows.map((row, i) => {
    const name = `c${i}`;
    const kMin = row.entropy === "ksubsets(k = 3)" ? 3 : 1;
    let M: number, D: number, B: number;
    switch (row.shape) {
      case "tiny":
        [M, D, B] = [kMin, 1, 1];
        break;
      case "small":
        [M, D, B] = [7, 3, 5];
        break;
      case "batch":
        [M, D, B] = [61, 13, 64];
        break;
      case "wide":
        // 1060: 265 vec4 chunks, more than the 256 threads of a workgroup.
        [M, D, B] = [40, i % 2 ? 700 : 1060, 3];
        break;
      case "below":
      case "above": {
        D = i % 2 ? 13 : 67;
        B = 3;
        const cap = rowCapacityOf(
          checkOne(modelText(name, row, maskText(row, i, 1000))),
          D,
          limits,
        );
        M = row.shape === "below" ? cap : cap + 1;
        break;
      }
    }
    // Wide shapes cap `until` at 4 steps: see the test "KNOWN DRIVER ISSUE" below.
    const fields = row.shape === "wide" && row.steps.startsWith("until")
      ? { ...row, steps: "until(tol = 1e-5, max = 4)" }
      : row;
    const hop = modelText(name, fields, maskText(row, i, M));
    return { row, name, hop, M, D, B, model: checkOne(hop) };
  });
}

// ---------------------------------------------------------------------------------------------
// Data. Every value is rounded to float32 first, so both paths see exactly the same inputs.

export interface Data {
  X: Mat;
  Q: Mat;
}

function gaussian(rng: () => number): number {
  const u = 1 - rng(), v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function mat(rows: number, cols: number, f: (i: number, d: number) => number): Mat {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let d = 0; d < cols; d++) data[i * cols + d] = f(i, d);
  return { rows, cols, data: data.map(Math.fround) };
}

/** Multiplies every entry by (1 + jitter u), u uniform in [-1, 1] (jitter 0: unchanged). */
function jittered(jitter: number, seed: number): (v: number) => number {
  if (jitter === 0) return (v) => v;
  const rng = rngOf(seed ^ 0x5bd1e995);
  return (v) => v * (1 + jitter * (2 * rng() - 1));
}

/** Unit-norm random memories, queries that are noisy memories (attractors are well separated). */
export function randomData(M: number, D: number, B: number, seed: number, jitter = 0): Data {
  const rng = rngOf(seed);
  const jit = jittered(jitter, seed);
  const raw = Array.from({ length: M }, () => {
    const v = Array.from({ length: D }, () => gaussian(rng));
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  });
  const X = mat(M, D, (i, d) => jit(raw[i][d]));
  const noise = 0.3 / Math.sqrt(D);
  const Q = mat(B, D, (b, d) => jit(raw[(b * 7) % M][d] + noise * gaussian(rng)));
  return { X, Q };
}

/**
 * Ties: memories of norms in [0.7, 1.3], about a third of them exact copies of earlier ones (their
 * scores tie exactly, on the GPU too), queries equal to memories (tied top scores where that
 * memory is copied), a repeated query, and a zero query (dot and cosine scores all tie at 0).
 * The jitter is applied before copying, so the copies stay exact.
 */
export function tiedData(M: number, D: number, B: number, seed: number, jitter = 0): Data {
  const { X, Q } = randomData(M, D, B, seed, jitter);
  const rng = rngOf(seed + 1);
  const scale = Array.from({ length: M }, () => 0.7 + 0.6 * rng());
  const src = new Int32Array(M).map((_, i) => i);
  for (let i = 1; i < M; i++) if (rng() < 0.35) src[i] = Math.floor(rng() * i);
  const Xd = mat(M, D, (i, d) => X.data[src[i] * D + d] * scale[src[i]]);
  const Qd = mat(B, D, (b, d) => {
    if (b % 4 === 0) return Xd.data[(M - 1 - (b % M)) * D + d];
    if (b % 4 === 1 && b > 1) return Q.data[(b - 1) * D + d];
    if (b % 4 === 3) return 0;
    return Q.data[b * D + d];
  });
  return { X: Xd, Q: Qd };
}

// ---------------------------------------------------------------------------------------------
// Comparison.

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** max |a - b| / max |ref| (absolute where the reference is all zeros). */
function relDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  const scale = maxAbs(ref);
  const d = maxDiff(a, ref);
  return scale > 0 ? d / scale : d;
}

/** Memories in exactly one of the two supports (weight > 0), query by query. */
function supportDiff(a: ArrayLike<number>, b: ArrayLike<number>, M: number, q: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < M; i++) if ((a[q * M + i] > 0) !== (b[q * M + i] > 0)) out.push(i);
  return out;
}

/** LANGUAGE.md section 2: 1e-4 of the largest entry. Weights are in [0, 1]: 1e-4 absolute. */
export const TOL = 1e-4;

/**
 * Whether the reference's answer is stable under a 1e-6 relative jitter of the inputs (float32
 * rounding is far smaller): states within TOL / 10, weights within TOL / 10, the same step counts,
 * and (where `support`) the same supports.
 */
export function wellConditioned(
  model: Model,
  ref: RetrievalOutput,
  jitteredData: Data,
  support: boolean,
): string | null {
  const other = retrieveReference(model, jitteredData.X, jitteredData.Q);
  const s = relDiff(other.states.data, ref.states.data);
  if (s > TOL / 10) return `states move by ${s.toExponential(1)}`;
  const w = maxDiff(other.weights.data, ref.weights.data);
  if (w > TOL / 10) return `weights move by ${w.toExponential(1)}`;
  if (other.stepsRun.some((t, b) => t !== ref.stepsRun[b])) return "step counts change";
  if (support) {
    for (let b = 0; b < jitteredData.Q.rows; b++) {
      if (supportDiff(other.weights.data, ref.weights.data, ref.weights.cols, b).length) {
        return "a support changes";
      }
    }
  }
  return null;
}

export interface Agreement {
  /** max |gpu - ref| / max |ref| over the states. */
  states: number;
  /** max |gpu - ref| over the weights. */
  weights: number;
  /** Memories in exactly one of the two supports (sparse maps), summed over queries. */
  supportDiffs: number;
  /** Queries whose step count differs (only ever by 1, at tol). */
  stepsDiffs: number;
}

export async function runGpu(ctx: GpuContext, model: Model, data: Data): Promise<GpuResult> {
  const r = await load(model, data.X, ctx);
  try {
    // Features retrieval forms no per-memory weights on the GPU (it reads KV, not X).
    return await r.retrieve(data.Q, { weights: model.similarity.kind !== "features" });
  } finally {
    r.destroy();
  }
}

/**
 * Asserts that the GPU agrees with the reference: states within TOL of the largest entry, weights
 * within TOL, step counts equal (±1 only where the reference's change is within 1e-6 of tol) and,
 * where `exactSupport` (sparse maps on random continuous inputs), identical supports.
 */
export function assertAgrees(
  model: Model,
  data: Data,
  ref: RetrievalOutput,
  gpu: GpuResult,
  opts: { exactSupport: boolean; where: string },
): Agreement {
  const { where } = opts;
  const B = data.Q.rows;
  const scale = maxAbs(ref.states.data);
  const dStates = maxDiff(gpu.states, ref.states.data);
  assert.ok(
    scale > 0 ? dStates <= TOL * scale : dStates <= 1e-6,
    `${where}: states differ by ${dStates} (max |ref| = ${scale})`,
  );
  const weights = gpu.weights ? maxDiff(gpu.weights, ref.weights.data) : 0;
  assert.ok(weights <= TOL, `${where}: weights differ by ${weights}`);

  let supportDiffs = 0;
  if (sparseEntropy(model.entropy) && gpu.weights) {
    const M = ref.weights.cols; // memories, or basis functions for continuous memory
    for (let b = 0; b < B; b++) {
      const diff = supportDiff(gpu.weights, ref.weights.data, M, b);
      supportDiffs += diff.length;
      if (opts.exactSupport) {
        assert.deepEqual(
          diff,
          [],
          `${where}: query ${b}: supports differ at memories ${diff.slice(0, 8)} (gpu ${
            diff.slice(0, 4).map((i) => gpu.weights![b * M + i])
          }, ref ${diff.slice(0, 4).map((i) => ref.weights.data[b * M + i])})`,
        );
      }
    }
  }

  let stepsDiffs = 0;
  for (let b = 0; b < B; b++) {
    const g = gpu.stepsRun[b], c = ref.stepsRun[b];
    if (g === c) continue;
    stepsDiffs++;
    const near = model.steps.kind === "until" && Math.abs(g - c) === 1 &&
      Math.abs(ref.trace[Math.min(g, c)].change[b] - model.steps.tol) <= 1e-6;
    assert.ok(near, `${where}: query ${b} ran ${g} steps on the GPU, ${c} in the reference`);
  }
  return { states: dStates / (scale || 1), weights, supportDiffs, stepsDiffs };
}

// ---------------------------------------------------------------------------------------------
// Tests.

/**
 * Tests are registered only when this file is the test module being run: imported (by
 * tests/gpu_validation_test.ts, for the design) it would otherwise register them there again.
 */
const registering = Deno.mainModule === import.meta.url;
const ctx = registering ? gpuContext : null;

const gpuTest = (name: string, fn: (ctx: GpuContext) => Promise<void> | void) => {
  if (registering) registerGpuTest(name, fn);
};

export const familyOf = (m: Model): string =>
  m.entropy.kind === "tsallis"
    ? `tsallis(${m.entropy.alpha})`
    : m.entropy.kind === "normmax"
    ? `normmax(${m.entropy.gamma})`
    : m.entropy.kind === "ksubsets"
    ? `ksubsets(${m.entropy.k})`
    : m.entropy.kind;

/** Largest errors seen per entropy (all agreement tests), printed by the last test. */
const worst = new Map<string, Agreement & { models: number }>();
const fellBack: string[] = [];
/** The largest relative state errors, with where they came from. */
const largest: [number, string][] = [];
function record(m: Model, a: Agreement, where = "") {
  largest.push([a.states, `${familyOf(m)} ${where}`]);
  largest.sort((x, y) => y[0] - x[0]).splice(6);
  const key = familyOf(m);
  const w = worst.get(key) ?? { states: 0, weights: 0, supportDiffs: 0, stepsDiffs: 0, models: 0 };
  worst.set(key, {
    states: Math.max(w.states, a.states),
    weights: Math.max(w.weights, a.weights),
    supportDiffs: w.supportDiffs + a.supportDiffs,
    stepsDiffs: w.stepsDiffs + a.stepsDiffs,
    models: w.models + 1,
  });
}

/** Reference, conditioning check, GPU and the assertions, for one model and a data generator. */
async function agree(
  ctx: GpuContext,
  model: Model,
  make: (seed: number, jitter: number) => Data,
  opts: { exactSupport: boolean; label: string; seed: number; fallback?: boolean },
): Promise<{ agreement: Agreement; data: Data; ref: RetrievalOutput; gpu: GpuResult }> {
  const reasons: string[] = [];
  for (const m of [model, { ...model, steps: { kind: "fixed", count: 1 } } as Model]) {
    if (m !== model && model.steps.kind === "fixed" && model.steps.count === 1) break;
    if (m !== model && opts.fallback === false) break;
    for (let attempt = 0; attempt < 3; attempt++) {
      const seed = opts.seed + 7919 * attempt;
      const data = make(seed, 0);
      const ref = retrieveReference(m, data.X, data.Q);
      const why = wellConditioned(m, ref, make(seed, 1e-6), opts.exactSupport);
      if (why) {
        reasons.push(`${m === model ? "" : "1 step, "}seed ${seed}: ${why}`);
        continue;
      }
      if (m !== model) fellBack.push(`${opts.label} (${reasons.join("; ")})`);
      const gpu = await runGpu(ctx, m, data);
      const plan = makePlan(m, { M: data.X.rows, D: data.X.cols }, ctx.limits);
      const where =
        `${opts.label} [M=${data.X.rows} D=${data.X.cols} B=${data.Q.rows} seed=${seed}` +
        `${
          m === model ? "" : ", 1 step"
        }] plan=${plan.family}/${plan.scores} tile=${plan.tileRows}`;
      const agreement = assertAgrees(m, data, ref, gpu, { exactSupport: opts.exactSupport, where });
      record(m, agreement, where);
      return { agreement, data, ref, gpu };
    }
  }
  throw new Error(`${opts.label}: no well-conditioned inputs found: ${reasons.join("; ")}`);
}

if (registering) {
  Deno.test("the covering design covers every allowed pair of options", () => {
    const rows = coveringDesign();
    const need = requiredPairs();
    for (const r of rows) for (const p of pairsOf(r)) need.delete(p);
    assert.equal(need.size, 0, `uncovered: ${[...need].slice(0, 5)}`);
    assert.ok(rows.length <= 80, `${rows.length} models`);
    for (const r of rows) assert.ok(allowed(r));
    assert.deepEqual(coveringDesign(), rows, "the design is reproducible");
  });
}

if (ctx) {
  const limits = ctx.limits;
  for (const c of designCases(limits)) {
    const label = `${c.name}: ${c.row.similarity} ${c.row.entropy} ${
      c.hop.match(/mask\s+(.*)/)![1]
    } ${c.row.post} beta=${c.row.beta} steps=${c.row.steps} ${c.row.shape}/${c.row.data}`;
    gpuTest(`agree ${label}`, async (ctx) => {
      const plan = makePlan(c.model, { M: c.M, D: c.D }, limits);
      if (plan.family === "threshold" && c.row.shape === "below") {
        assert.equal(plan.scores, "workgroup", "M = capacity keeps the row in workgroup memory");
        assert.equal(plan.rowCapacity, c.M);
      }
      if (plan.family === "threshold" && c.row.shape === "above") {
        assert.equal(plan.scores, "storage", "M = capacity + 1 moves the row to storage");
      }
      const make = (seed: number, jitter: number) =>
        c.row.data === "random"
          ? randomData(c.M, c.D, c.B, seed, jitter)
          : tiedData(c.M, c.D, c.B, seed, jitter);
      await agree(ctx, c.model, make, {
        exactSupport: c.row.data === "random",
        label,
        seed: 1000 + Number(c.name.slice(1)),
      });
    });
  }
}

// --- the sparse maps' margins -----------------------------------------------------------------

/** Margin in score units: the top entry alone in the support iff it leads the next by this much. */
const MARGINS: [string, number][] = [
  ["tsallis(alpha = 1.25)", 4],
  ["tsallis(alpha = 1.5)", 2],
  ["tsallis(alpha = 3)", 0.5],
  ["sparsemax", 1],
  ["normmax(gamma = 2)", 1],
  ["normmax(gamma = 5)", 1],
  ["ksubsets(k = 1)", 1],
  ["ksubsets(k = 3)", 1],
];

gpuTest("sparse maps at and near their margins (one-hot and ties at the top)", async (ctx) => {
  const skipped: string[] = [];
  for (const [entropy, margin] of MARGINS) {
    const k = entropy === "ksubsets(k = 3)" ? 3 : 1;
    const model = checkOne(modelText("margin", {
      similarity: "dot",
      entropy,
      post: "identity",
      beta: 1,
      steps: "1",
    }, "none"));
    // D = 1 and q = 1, so the scores are the memories themselves: k leaders at L (tied where
    // k > 1), the next one at L - margin (1 + delta), a tail far below, in scrambled order.
    const L = 0.25;
    for (const delta of [-1e-2, -1e-3, 0, 1e-3, 1e-2]) {
      const second = L - margin * (1 + delta);
      const values = [L - 3 * margin, L, second, L - 5 * margin, ...Array(k - 1).fill(L)];
      const make = (_seed: number, jitter: number): Data => {
        const jit = jittered(jitter, 3);
        return {
          X: mat(values.length, 1, (i) => jit(values[i])),
          Q: mat(2, 1, (b) => jit([1, 1.0000001][b])),
        };
      };
      const data = make(0, 0);
      const ref = retrieveReference(model, data.X, data.Q);
      const where = `${entropy} delta=${delta}`;
      const why = wellConditioned(model, ref, make(0, 1e-6), false);
      if (why) {
        // At (and very near) the margin the maps with exponent 1/(alpha - 1) < 1 (tsallis 3,
        // normmax 5) have an infinite slope: float32 rounding of the scores alone moves the
        // weights by more than 1e-4 there, so there is nothing to compare.
        skipped.push(`${where} (${why})`);
        continue;
      }
      const gpu = await runGpu(ctx, model, data);
      const exact = delta !== 0; // off the margin the supports must match
      record(model, assertAgrees(model, data, ref, gpu, { exactSupport: exact, where }), where);
      if (exact) {
        const support = [...ref.weights.data.subarray(0, values.length)].filter((w) => w > 0);
        assert.equal(support.length, delta > 0 ? k : k + 1, `${where}: the reference's support`);
      }
    }
  }
  if (skipped.length) console.log(`ill-conditioned, not compared:\n  ${skipped.join("\n  ")}`);
  assert.ok(skipped.length <= 6, `${skipped.length} cases ill-conditioned at their margin`);
});

// --- top-k ------------------------------------------------------------------------------------

/** Memories with an exact tie group A (several copies) at the top of query A's scores. */
function topkData(M: number, D: number, seed: number): Data & { copies: number[] } {
  const { X } = randomData(M, D, 1, seed);
  const copies = [3, 5, 6, 11, Math.floor(M / 2), M - 1].filter((i, j, a) =>
    i < M && a.indexOf(i) === j
  );
  const Xt = mat(M, D, (i, d) => X.data[(copies.includes(i) ? copies[0] : i) * D + d]);
  // Queries: A itself (a tie of all copies at the top), A + noise, a random memory.
  const Q = mat(
    3,
    D,
    (b, d) =>
      b === 0
        ? Xt.data[copies[0] * D + d]
        : b === 1
        ? Xt.data[copies[0] * D + d] * 0.9 + 0.02
        : X.data[2 * D + d],
  );
  return { X: Xt, Q, copies };
}

gpuTest(
  "topk: K = 1, K = M and ties broken by lowest index, both score placements",
  async (ctx) => {
    const D = 13;
    const capacity = rowCapacityOf(
      checkOne(
        modelText("t", {
          similarity: "dot",
          entropy: "sparsemax",
          post: "identity",
          beta: 1,
          steps: "1",
        }, "topk(k = 1)"),
      ),
      D,
      ctx.limits,
    );
    for (const M of [12, capacity + 1]) {
      const data = topkData(M, D, 77);
      const large = M > capacity;
      const entropies = large
        ? ["shannon", "sparsemax"]
        : ["shannon", "sparsemax", "ksubsets(k = 1)"];
      for (const entropy of entropies) {
        for (const K of large ? [1, 3, M] : [1, 2, 3, 4, M]) {
          const model = checkOne(modelText("t", {
            similarity: "dot",
            entropy,
            post: "identity",
            beta: 1,
            steps: "1",
          }, `topk(k = ${K})`));
          const plan = makePlan(model, { M, D }, ctx.limits);
          assert.equal(plan.scores, M > capacity ? "storage" : "workgroup");
          const ref = retrieveReference(model, data.X, data.Q);
          const gpu = await runGpu(ctx, model, data);
          const where = `topk K=${K} ${entropy} M=${M}`;
          record(model, assertAgrees(model, data, ref, gpu, { exactSupport: false, where }), where);
          // The kept set: zero weights in exactly the same places (shannon: every kept weight is
          // well above 0 at beta = 1), and for query A exactly the first K copies of A by index.
          for (let b = 0; b < data.Q.rows; b++) {
            if (entropy === "shannon") {
              assert.deepEqual(
                supportDiff(gpu.weights!, ref.weights.data, M, b),
                [],
                `${where} q${b}`,
              );
            }
            const s = new Float64Array(M);
            for (let i = 0; i < M; i++) {
              for (let d = 0; d < D; d++) s[i] += data.X.data[i * D + d] * data.Q.data[b * D + d];
            }
            const kept = new Set(topkIndices(s, K));
            for (let i = 0; i < M; i++) {
              if (!kept.has(i)) {
                assert.equal(
                  gpu.weights![b * M + i],
                  0,
                  `${where} q${b}: masked ${i}`,
                );
              }
            }
            if (b === 0 && K < data.copies.length) {
              assert.deepEqual([...kept].sort((a, c) => a - c), data.copies.slice(0, K));
            }
          }
        }
      }
    }
  },
);

// --- random masks -----------------------------------------------------------------------------

gpuTest(
  "random masks: kept sets identical on GPU and CPU (keep 0.05, 0.5, 1; seeds)",
  async (ctx) => {
    // shannon runs the online kernel, tsallis(1.25) at beta 1e-3 the threshold kernel with every
    // kept memory in the support: in both, weight 0 means exactly "not kept".
    for (const [entropy, beta] of [["shannon", 0.5], ["tsallis(alpha = 1.25)", 1e-3]] as const) {
      for (const M of [10, 300]) {
        const data = randomData(M, 7, 64, 5 + M);
        for (const keep of [0.05, 0.5, 1]) {
          for (const seed of [0, 12345, 4294967295]) {
            const model = checkOne(modelText("r", {
              similarity: "dot",
              entropy,
              post: "identity",
              beta,
              steps: "1",
            }, `random(keep = ${keep}, seed = ${seed})`));
            const ref = retrieveReference(model, data.X, data.Q);
            const gpu = await runGpu(ctx, model, data);
            const where = `random keep=${keep} seed=${seed} ${entropy} M=${M}`;
            record(
              model,
              assertAgrees(model, data, ref, gpu, { exactSupport: true, where }),
              where,
            );
            let kept = 0, fallbacks = 0;
            for (let b = 0; b < 64; b++) {
              let byHash = 0;
              for (let i = 0; i < M; i++) {
                const k = hash3(seed, b, i) < keep * 4294967296;
                byHash += k ? 1 : 0;
                if (k) assert.ok(gpu.weights![b * M + i] > 0, `${where}: q${b} keeps ${i}`);
              }
              if (byHash === 0) fallbacks++;
              for (let i = 0; i < M; i++) kept += gpu.weights![b * M + i] > 0 ? 1 : 0;
              assert.deepEqual(
                supportDiff(gpu.weights!, ref.weights.data, M, b),
                [],
                `${where} q${b}`,
              );
            }
            if (keep === 1) assert.equal(kept, 64 * M);
            if (keep === 0.05 && M === 10) {
              assert.ok(
                fallbacks > 0,
                "some query keeps none: fallback",
              );
            }
          }
        }
      }
    }
  },
);

gpuTest(
  "random mask: a hash exactly at floor(keep * 2^32) is kept, as the reference keeps it",
  async (ctx) => {
    // Found by inverting lowbias32: hash3(5939940, 1, 8) = 214748364 = floor(0.05 * 2^32) <
    // 0.05 * 2^32. A u32 bound of floor(keep * 2^32) dropped memory 8 of query 1.
    assert.equal(hash3(5939940, 1, 8), Math.floor(0.05 * 4294967296));
    const model = checkOne(modelText("r", {
      similarity: "dot",
      entropy: "shannon",
      post: "identity",
      beta: 0.5,
      steps: "1",
    }, "random(keep = 0.05, seed = 5939940)"));
    const data = randomData(64, 5, 2, 1);
    const ref = retrieveReference(model, data.X, data.Q);
    const gpu = await runGpu(ctx, model, data);
    assert.ok(ref.weights.data[64 + 8] > 0);
    assert.ok(gpu.weights![64 + 8] > 0, "memory 8 of query 1 is kept on the GPU");
    record(
      model,
      assertAgrees(model, data, ref, gpu, { exactSupport: true, where: "keep at hash" }),
    );
  },
);

// --- until ------------------------------------------------------------------------------------

gpuTest(
  "ksubsets on the GPU: the exact top-k indicator when the gap condition holds",
  async (ctx) => {
    // MATH.md 1: when the k-th largest score exceeds the (k+1)-th by at least 1, the k-subsets
    // marginals are the top-k indicator, so the state is the sum of exactly those k patterns.
    // Scores are set directly: X = I (D = M), q = the scores, beta = 1.
    const M = 24;
    const rng = rngOf(77);
    for (const k of [1, 2, 5, 11]) {
      for (let trial = 0; trial < 4; trial++) {
        const gap = 1 + [0, 1e-3, 0.5, 3][trial];
        const order = shuffle(Array.from({ length: M }, (_, i) => i), rng);
        const scores = new Float64Array(M);
        order.forEach((i, r) => {
          // Ranks below k get [0, 2) + gap above the others' [-2, 0): the gap is >= `gap`.
          scores[i] = r < k ? gap + 2 * rng() : -2 * rng();
        });
        // The smallest top score sits exactly `gap` above the largest other one.
        let lowTop = Infinity, highRest = -Infinity;
        order.forEach((i, r) => {
          if (r < k) lowTop = Math.min(lowTop, scores[i]);
          else highRest = Math.max(highRest, scores[i]);
        });
        order.forEach((i, r) => {
          if (r < k && scores[i] === lowTop) scores[i] = highRest + gap;
        });
        const model = checkOne(modelText("gap", {
          similarity: "dot",
          entropy: `ksubsets(k = ${k})`,
          post: "identity",
          beta: 1,
          steps: "1",
        }, "none"));
        const X = mat(M, M, (i, d) => (i === d ? 1 : 0));
        const Q = mat(1, M, (_, d) => scores[d]);
        const gpu = await runGpu(ctx, model, { X, Q });
        const top = new Set(order.slice(0, k));
        for (let i = 0; i < M; i++) {
          const w = gpu.weights![i];
          if (top.has(i)) {
            assert.ok(Math.abs(w - 1) <= 1e-6, `k=${k} gap=${gap}: weight ${w} of a top memory`);
          } else assert.equal(w, 0, `k=${k} gap=${gap}: memory ${i} outside the top k`);
          // X = I: the state is the weights, the sum of the k top patterns.
          assert.ok(Math.abs(gpu.states[i] - (top.has(i) ? 1 : 0)) <= 1e-6);
        }
      }
    }
    // Below the gap the marginals are fractional: the reference and the GPU agree on them.
    const model = checkOne(modelText("nogap", {
      similarity: "dot",
      entropy: "ksubsets(k = 2)",
      post: "identity",
      beta: 1,
      steps: "1",
    }, "none"));
    const X = mat(4, 4, (i, d) => (i === d ? 1 : 0));
    const Q = mat(1, 4, (_, d) => [1, 0.8, 0.5, -1][d]);
    const gpu = await runGpu(ctx, model, { X, Q });
    const ref = retrieveReference(model, X, Q);
    assert.ok(gpu.weights![1] < 0.99 && gpu.weights![2] > 0.01, `fractional: ${gpu.weights}`);
    assertAgrees(model, { X, Q }, ref, gpu, {
      exactSupport: true,
      where: "ksubsets below the gap",
    });
  },
);

gpuTest("until: the GPU stops each query at the reference's step", async (ctx) => {
  const cases: [string, string, number][] = [
    ["shannon", "l2", 8],
    ["sparsemax", "identity", 4],
    ["tsallis(alpha = 1.5)", "layernorm", 2],
    ["softmax1", "tanh", 3],
  ];
  for (const [entropy, post, beta] of cases) {
    const model = checkOne(modelText("u", {
      similarity: "dot",
      entropy,
      post,
      beta,
      steps: "until(tol = 1e-5, max = 30)",
    }, "none"));
    const { ref } = await agree(
      ctx,
      model,
      (seed, jitter) => randomData(50, 13, 24, seed, jitter),
      { exactSupport: true, label: `until ${entropy} ${post}`, seed: 31, fallback: false },
    );
    assert.ok(
      ref.stepsRun.some((t) => t < 30),
      `until ${entropy} ${post}: some query stops early (${ref.stepsRun})`,
    );
  }
});

// --- many queries, the pipeline cache, unsupported models --------------------------------------

gpuTest("B = 300 queries (300 workgroups), online and threshold kernels", async (ctx) => {
  for (const entropy of ["shannon", "sparsemax"]) {
    const model = checkOne(modelText("b", {
      similarity: "cosine",
      entropy,
      post: "identity",
      beta: 8,
      steps: "3",
    }, "none"));
    await agree(ctx, model, (seed, jitter) => randomData(100, 13, 300, seed, jitter), {
      exactSupport: true,
      label: `B=300 ${entropy}`,
      seed: 300,
    });
  }
});

gpuTest(
  "the pipeline cache: a second load of the same model and shapes compiles nothing",
  async (ctx) => {
    const model = checkOne(modelText("cache", {
      similarity: "euclidean",
      entropy: "tsallis(alpha = 1.5)",
      post: "identity",
      beta: 3.25,
      steps: "2",
    }, "none"));
    const data = randomData(20, 6, 4, 9);
    const before = { ...pipelineStats };
    const r1 = await load(model, data.X, ctx);
    const afterFirst = { ...pipelineStats };
    const r2 = await load(model, data.X, ctx);
    // Another M under the same plan constants (the score row is declared at its capacity).
    const r3 = await load(model, randomData(30, 6, 4, 9).X, ctx);
    const after = { ...pipelineStats };
    try {
      assert.equal(afterFirst.builds, before.builds + 1, "the first load compiles");
      assert.equal(after.builds, afterFirst.builds, "the later loads compile nothing");
      assert.equal(after.hits, afterFirst.hits + 2);
      assert.deepEqual(r1.plan.overrides, r2.plan.overrides);
      assert.deepEqual(r1.plan.overrides, r3.plan.overrides);
      assert.equal(r1.code, r2.code);
      const [a, b] = [await r1.retrieve(data.Q), await r2.retrieve(data.Q)];
      assert.deepEqual(a.states, b.states);
    } finally {
      for (const r of [r1, r2, r3]) r.destroy();
    }
  },
);

gpuTest(
  "continuous memory with manhattan quadrature: a clear HopError, no GPU work",
  async (ctx) => {
    const { models } = checkText(
      `model cont {
  memory continuous(basis = gaussian, functions = 8)
  similarity manhattan
  beta 2
}`,
      "unsupported.hop",
    );
    const X = mat(5, 3, (i, d) => i + d);
    const err = await load(models[0], X, ctx).then(() => null, (e) => e);
    assert.ok(err instanceof HopError, `${err}`);
    assert.match(
      err.message,
      /continuous memory with quadrature lowers `similarity manhattan` only on the CPU/,
    );
    assert.match(err.message, /^unsupported\.hop:\d+:\d+: error: model `cont`: /);
    assert.ok(err.diagnostics[0].hint?.includes("--device cpu"));
    assert.throws(() => makePlan(models[0], { M: 5, D: 3 }, ctx.limits), HopError);
  },
);

if (registering) {
  Deno.test({
    name: "KNOWN LIMITATION: softmax1 + l2 where every score is below -87 (float32 underflow)",
    // The readout X^T p is ~e^-180 x: 0 in float32, so l2 gives 0 instead of the direction of x
    // (the reference, in float64, gives the direction). Enable once the l2 readout is scale-free.
    ignore: true,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const ctx = await acquireDevice();
      const model = checkOne(modelText("under", {
        similarity: "dot",
        entropy: "softmax1",
        post: "l2",
        beta: 200,
        steps: "1",
      }, "none"));
      const X = mat(8, 4, (i, d) => (d === 0 ? 1 : 0.05 * Math.sin(i + 3 * d)));
      const Q = mat(1, 4, (_, d) => (d === 0 ? -1 : 0));
      const ref = retrieveReference(model, X, Q);
      const gpu = await runGpu(ctx, model, { X, Q });
      assertAgrees(model, { X, Q }, ref, gpu, { exactSupport: false, where: "softmax1 underflow" });
    },
  });
}

/** Mesa's CPU drivers, on which long large-D runs go wrong (see the next test). */
const llvmpipe = ctx !== null && /llvmpipe|lavapipe|softpipe/i.test(ctx.info);

if (registering) {
  Deno.test({
    name: "KNOWN DRIVER ISSUE: long runs at large D (skipped on Mesa llvmpipe / lavapipe)",
    // On Deno's WebGPU over Mesa llvmpipe (Vulkan lavapipe and GL alike, LLVM 15) kernels with
    // large D go wrong after some hundreds of X tiles in one dispatch: threshold kernel, D = 700,
    // M = 80, from step 21; D = 1060 or 1100 with one row per tile, after about 220 to 320 tiles
    // (D = 1100, M = 80: step 3 or 4); online kernel, D = 700, M = 160, from step 35. At small D
    // it takes more tiles in one step: D = 64, M = 131072 (1337 tiles of 98 rows) goes wrong and
    // M = 16384 (167 tiles) does not; D = 784, M = 5000 (833 tiles of 6 rows) goes wrong. SwiftShader
    // runs those right too (8.5e-7 of the reference at D = 64, M = 131072). The state entering the bad step is right, and one step restarted from it is
    // right, so by WGSL semantics the continuous run must be too. Chromium 150 (Tint +
    // SwiftShader) runs the same WGSL with the same override constants correctly: 2.6e-7, 3.1e-6
    // and 5.5e-7 of the reference for the three cases below. So not a hopc kernel bug: the naga
    // or llvmpipe layer under Deno. The design therefore caps `until` at 4 steps for its wide
    // shapes.
    ignore: ctx === null || llvmpipe,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const cases: [number, number, number, string][] = [
        [700, 80, 30, "tsallis(alpha = 1.25)"],
        [1100, 80, 10, "sparsemax"],
        [700, 160, 40, "shannon"],
      ];
      for (const [D, M, steps, entropy] of cases) {
        const model = checkOne(modelText("long", {
          similarity: "dot",
          entropy,
          post: "identity",
          beta: 1,
          steps: String(steps),
        }, "none"));
        await agree(ctx!, model, (seed, jitter) => randomData(M, D, 3, seed, jitter), {
          exactSupport: true,
          label: `long run D=${D} M=${M} ${entropy} ${steps} steps`,
          seed: 1034,
          fallback: false,
        });
      }
    },
  });
}

gpuTest("summary: largest GPU - reference differences per entropy", () => {
  const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, w]) =>
    `  ${k.padEnd(14)} models ${String(w.models).padStart(3)}  states ${
      w.states.toExponential(2)
    } (rel)  weights ${
      w.weights.toExponential(2)
    }  support diffs ${w.supportDiffs}  step diffs ${w.stepsDiffs}`
  );
  console.log(`adapter: ${ctx!.info}\nGPU vs reference, worst per entropy:\n${rows.join("\n")}`);
  console.log(
    `largest state errors:\n${largest.map(([e, w]) => `  ${e.toExponential(2)}  ${w}`).join("\n")}`,
  );
  if (fellBack.length) {
    console.log(
      `compared after one step (ill-conditioned over their iterations):\n  ${
        fellBack.join("\n  ")
      }`,
    );
  }
  assert.ok(fellBack.length <= 8, `${fellBack.length} models fell back to one step`);
});
