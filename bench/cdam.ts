// `deno task experiment:cdam`: correlated dense associative memory (CDAM; Burns, ICML 2024;
// tfburns/CDAM notebooks; MATH.md 7.7) through hopc's `readout project(a, h, c)` and `relax eta`.
//
//   deno run -A bench/cdam.ts [--P 10,20,30] [--seeds 5] [--out PATH] [--svg PATH] [--cpu]
//
// 1. The notebook's table (Non-tradition_auto-association.ipynb cells 5-8): Fashion-MNIST test
//    images 0..P-1 scaled by their max pixel (n = 784), an empty memory graph (so h has no effect
//    and the readout rows are a x_i - mean(X)), beta 1, eta 0.1, 100 steps, c = 1; the start of
//    pattern mu is s_mu = x_mu + U(-0.5, 0.5) noise. Pattern mu is correct when, among the P
//    final states, its own has the highest Pearson correlation with its start s_mu (MATH.md's
//    "final state correlates best with its own start pattern"; `start` below). The other reading,
//    the final state's best-correlated stored pattern is x_mu (`retrieval`), is reported beside
//    it: with c = 1 every final state holds -mean(X), which the retrieval reading cannot see past
//    at small a. The notebook ran once, unseeded; here seed 0 runs on the GPU (when there is an
//    adapter) and the float64 reference, and seeds 0..S-1 on the reference give the mean and range.
// 2. The four dynamical modes on a directed cycle of P = 10 patterns, from pattern 1 + noise:
//    auto-association (a = 1, h = 0), narrow hetero-association (a = 0.1, h = 0.9), wide
//    hetero-association (a = -1, h = 3.5, beta 0.6, eta 0.2: anti-Hebbian, MATH.md 7.7's video
//    setting) and quiescence (a = h = 0: every state decays to -mean(X)); each pattern's
//    correlation with the state over the 100 steps is plotted (SVG). The cycle has edges
//    i+1 -> i (A[i+1][i] = 1): with CDAM's xi H, memory i reads x_{i+1}, so the state walks
//    0 -> 1 -> 2 ...
//
// hopc's softmax subtracts the max; the notebook's `(exp(x) + ulp) / (sum exp + ulp)` does not
// (the same weights wherever exp does not overflow, as here: scores stay far below 709).
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { linePlot, panels, type Series } from "./lib/svg.ts";
import { dateStamp, slug } from "./lib/common.ts";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { retrieveReference } from "../src/reference/interpreter.ts";
import { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
import { load } from "../src/runtime/retriever.ts";

/** The notebook's settings (MATH.md 7.7 table): (a, h) and its correct fractions at P = 10, 20, 30. */
export const NOTEBOOK: { a: number; h: number; correct: Record<number, number> }[] = [
  { a: 1, h: 0, correct: { 10: 0.8, 20: 0.8, 30: 0.667 } },
  { a: 0.5, h: 0.5, correct: { 10: 0.5, 20: 0.15, 30: 0.1 } },
  { a: 0.1, h: 0.9, correct: { 10: 1.0, 20: 1.0, 30: 1.0 } },
  { a: 0.9, h: 0.1, correct: { 10: 0.9, 20: 0.75, 30: 0.767 } },
];

export const BETA = 1, ETA = 0.1, STEPS = 100, C = 1;

/** The four dynamical modes on the cycle graph (part 2). */
export const MODES = [
  { mode: "auto-association", a: 1, h: 0, beta: 1, eta: 0.1 },
  { mode: "narrow hetero-association", a: 0.1, h: 0.9, beta: 1, eta: 0.1 },
  { mode: "wide hetero-association", a: -1, h: 3.5, beta: 0.6, eta: 0.2 },
  { mode: "quiescence", a: 0, h: 0, beta: 1, eta: 0.1 },
] as const;

/** The hopc model of one setting. */
export function cdamModel(a: number, h: number, beta = BETA, eta = ETA, steps = STEPS): Model {
  const text = `model cdam {
  readout project(a = ${a}, h = ${h}, c = ${C})
  beta ${beta}
  relax ${eta}
  steps ${steps}
}`;
  const { models, diagnostics } = checkText(text, "bench/cdam.ts");
  if (diagnostics.length) throw new Error(diagnostics.map((d) => d.message).join("; "));
  return models[0];
}

/** U(0, 1) from a fixed seed (mulberry32). */
export function uniformRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first P images scaled by their max pixel, and each one plus U(-0.5, 0.5) noise. */
export function notebookData(images: Float64Array, P: number, n: number, seed: number) {
  const data = images.slice(0, P * n);
  let max = 0;
  for (const v of data) max = Math.max(max, v);
  for (let i = 0; i < data.length; i++) data[i] /= max;
  const rnd = uniformRng(seed);
  const starts = data.map((v) => v + rnd() - 0.5);
  return { X: { rows: P, cols: n, data } as Mat, Q: { rows: P, cols: n, data: starts } as Mat };
}

/** Pearson correlation of two vectors. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma, y = b[i] - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** Each final state's correlations with the P patterns. */
export function overlaps(states: ArrayLike<number>, b: number, X: Mat): number[] {
  const n = X.cols;
  const s = Array.from({ length: n }, (_, j) => states[b * n + j]);
  return Array.from(
    { length: X.rows },
    (_, m) => correlation(s, X.data.subarray(m * n, (m + 1) * n)),
  );
}

/**
 * The correct patterns. `start` (the table's rule): among the P final states, pattern mu's own
 * has the highest correlation with its start S_mu. `retrieval`: the stored pattern that final
 * state mu correlates best with is x_mu.
 */
export function verdicts(
  states: ArrayLike<number>,
  X: Mat,
  S: Mat,
  rule: "start" | "retrieval" = "start",
): boolean[] {
  const P = X.rows;
  if (rule === "retrieval") {
    return Array.from({ length: P }, (_, b) => {
      const o = overlaps(states, b, X);
      return o.indexOf(Math.max(...o)) === b;
    });
  }
  const O = Array.from({ length: P }, (_, b) => overlaps(states, b, S)); // O[final b][start m]
  return Array.from({ length: P }, (_, m) => {
    const col = O.map((row) => row[m]);
    return col.indexOf(Math.max(...col)) === m;
  });
}

/** The empty memory graph of the notebook's table: H = 0 (every degree is 0). */
function emptyGraph(P: number): Mat {
  return { rows: P, cols: P, data: new Float64Array(P * P) };
}

/** The directed cycle of part 2: edges i+1 -> i, so memory i reads x_{i+1}. */
export function forwardCycle(P: number): Mat {
  const A = new Float64Array(P * P);
  for (let i = 0; i < P; i++) A[((i + 1) % P) * P + i] = 1;
  return { rows: P, cols: P, data: A };
}

export interface Cell {
  P: number;
  a: number;
  h: number;
  /** Seed 0: the GPU's correct fraction (null without an adapter), the reference's. */
  gpu: number | null;
  reference: number;
  /** Largest |GPU - reference| of the final states, and the verdicts that differ. */
  gpuError: number | null;
  verdictsDiffer: number | null;
  /** Over seeds 0..S-1 on the reference: mean, min, max. */
  seeds: { mean: number; min: number; max: number; count: number };
  /** The retrieval reading (final state -> best stored pattern), seeds mean, on the reference. */
  retrieval: number;
  notebook: number;
}

const fraction = (v: boolean[]) => v.filter((x) => x).length / v.length;

export async function runCell(
  ctx: GpuContext | null,
  images: Float64Array,
  n: number,
  P: number,
  a: number,
  h: number,
  seeds: number,
): Promise<Cell> {
  const model = cdamModel(a, h);
  // h != 0 reads the (empty) graph; with h = 0 the model reads none and is given none.
  const graph = h !== 0 ? emptyGraph(P) : undefined;
  const perSeed: number[] = [];
  let retrieval = 0;
  let ref0: Mat | null = null;
  for (let seed = 0; seed < seeds; seed++) {
    const { X, Q } = notebookData(images, P, n, seed);
    const out = retrieveReference(model, X, Q, undefined, { graph });
    perSeed.push(fraction(verdicts(out.states.data, X, Q)));
    retrieval += fraction(verdicts(out.states.data, X, Q, "retrieval")) / seeds;
    if (seed === 0) ref0 = out.states;
  }
  let gpu: number | null = null, gpuError: number | null = null, differ: number | null = null;
  if (ctx) {
    const { X, Q } = notebookData(images, P, n, 0);
    const r = await load(model, X, ctx, {}, { graph });
    try {
      const out = await r.retrieve(Q);
      const v = verdicts(out.states, X, Q);
      gpu = fraction(v);
      gpuError = 0;
      for (let i = 0; i < out.states.length; i++) {
        gpuError = Math.max(gpuError, Math.abs(out.states[i] - ref0!.data[i]));
      }
      const vr = verdicts(ref0!.data, X, Q);
      differ = v.filter((x, i) => x !== vr[i]).length;
    } finally {
      r.destroy();
    }
  }
  return {
    P,
    a,
    h,
    gpu,
    reference: perSeed[0],
    gpuError,
    verdictsDiffer: differ,
    seeds: {
      mean: perSeed.reduce((s, x) => s + x, 0) / perSeed.length,
      min: Math.min(...perSeed),
      max: Math.max(...perSeed),
      count: perSeed.length,
    },
    retrieval,
    notebook: NOTEBOOK.find((s) => s.a === a && s.h === h)!.correct[P] ?? NaN,
  };
}

export interface Trajectory {
  mode: string;
  a: number;
  h: number;
  beta: number;
  eta: number;
  start: number;
  /** overlap[t][mu]: correlation of the state after step t (0: the start) with pattern mu. */
  overlap: number[][];
  /** Largest |GPU - reference| of the state after the last step (null without an adapter). */
  gpuError: number | null;
  /**
   * Largest change of the reference's last state when the data are rounded to float32 (what
   * the GPU computes from): how far apart two correct runs may end in this mode.
   */
  roundingSpread: number;
}

/**
 * One mode's overlaps over the steps: the float64 reference one step at a time (a steps-1 model
 * from the previous state is exactly the next step: the post is the identity, nothing is
 * clamped), and the GPU's 100-step run checked against the last state.
 */
export async function trajectory(
  ctx: GpuContext | null,
  X: Mat,
  start: number,
  seed: number,
  mode: (typeof MODES)[number],
  steps = STEPS,
): Promise<Trajectory> {
  const P = X.rows, n = X.cols;
  const graph = mode.h !== 0 ? forwardCycle(P) : undefined;
  const rnd = uniformRng(seed);
  let q: Mat = {
    rows: 1,
    cols: n,
    data: X.data.slice(start * n, (start + 1) * n).map((v) => v + rnd() - 0.5),
  };
  const q0 = q;
  const one = cdamModel(mode.a, mode.h, mode.beta, mode.eta, 1);
  const overlap = [overlaps(q.data, 0, X)];
  for (let t = 1; t <= steps; t++) {
    q = retrieveReference(one, X, q, undefined, { graph }).states;
    overlap.push(overlaps(q.data, 0, X));
  }
  const model = cdamModel(mode.a, mode.h, mode.beta, mode.eta, steps);
  const f32 = (m: Mat): Mat => ({ ...m, data: m.data.map(Math.fround) });
  const rounded = retrieveReference(model, f32(X), f32(q0), undefined, { graph }).states.data;
  const roundingSpread = Math.max(...Array.from(rounded, (v, i) => Math.abs(v - q.data[i])));
  let gpuError: number | null = null;
  if (ctx) {
    const r = await load(model, X, ctx, {}, { graph });
    try {
      const out = await r.retrieve(q0);
      gpuError = Math.max(...Array.from(out.states, (v, i) => Math.abs(v - q.data[i])));
    } finally {
      r.destroy();
    }
  }
  return { ...mode, start, overlap, gpuError, roundingSpread };
}

export function table(cells: Cell[], Ps: number[]): string {
  const pct = (v: number | null) => (v === null ? "  -  " : v.toFixed(3));
  const head = `| (a, h) | ${
    Ps.map((P) => `P=${P} hopc (seed 0) | P=${P} mean [min, max] | P=${P} notebook`).join(" | ")
  } | retrieval reading, mean (${Ps.map((P) => `P=${P}`).join(", ")}) |`;
  const rule = `|---|${Ps.map(() => "---|---|---|").join("")}---|`;
  const rows = NOTEBOOK.map(({ a, h }) => {
    const cols = Ps.map((P) => {
      const c = cells.find((x) => x.P === P && x.a === a && x.h === h)!;
      const s = c.seeds;
      return `${pct(c.gpu ?? c.reference)} | ${pct(s.mean)} [${pct(s.min)}, ${pct(s.max)}] | ${
        pct(c.notebook)
      }`;
    });
    const other = Ps.map((P) =>
      pct(cells.find((x) => x.P === P && x.a === a && x.h === h)!.retrieval)
    );
    return `| (${a}, ${h}) | ${cols.join(" | ")} | ${other.join(", ")} |`;
  });
  return [head, rule, ...rows].join("\n");
}

function figure(ts: Trajectory[]): string {
  const plots = ts.map((t) => {
    const series: Series[] = t.overlap[0].map((_, mu) => ({
      label: `pattern ${mu}${mu === t.start ? " (start)" : ""}`,
      x: t.overlap.map((_, s) => s),
      y: t.overlap.map((o) => o[mu]),
      dashed: mu >= 8,
    }));
    return linePlot({
      title: `${t.mode}: a = ${t.a}, h = ${t.h}, beta = ${t.beta}, eta = ${t.eta}`,
      xLabel: "step",
      yLabel: "correlation with pattern",
      series,
      width: 640,
      height: 360,
    });
  });
  return panels(plots, 2);
}

function parseArgs(argv: string[]) {
  const opts = { Ps: [10, 20, 30], seeds: 5, out: "", svg: "bench/results/cdam.svg", cpu: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--P") opts.Ps = v.split(",").map(Number), i++;
    else if (a === "--seeds") opts.seeds = Number(v), i++;
    else if (a === "--out") opts.out = v, i++;
    else if (a === "--svg") opts.svg = v, i++;
    else if (a === "--cpu") opts.cpu = true;
    else throw new Error(`bench/cdam.ts: unknown argument ${a}`);
  }
  if (opts.Ps.some((p) => !(Number.isInteger(p) && p >= 2 && p <= 10000))) {
    throw new Error("--P: whole numbers from 2");
  }
  if (!(Number.isInteger(opts.seeds) && opts.seeds >= 1)) throw new Error("--seeds: at least 1");
  return opts;
}

async function main() {
  const opts = parseArgs(Deno.args);
  const log = (s: string) => console.error(s);
  const ctx = opts.cpu ? null : await acquireDevice({ required: false });
  log(`adapter: ${ctx?.info ?? "none (float64 reference only)"}`);
  const maxP = Math.max(...opts.Ps, 10);
  const { images, side } = await loadFashionMnist({ split: "test", limit: maxP });
  const n = side * side;
  const t0 = performance.now();
  const cells: Cell[] = [];
  for (const P of opts.Ps) {
    for (const { a, h } of NOTEBOOK) {
      const c = await runCell(ctx, images, n, P, a, h, opts.seeds);
      cells.push(c);
      log(
        `P=${P} (a, h) = (${a}, ${h}): ${c.gpu ?? c.reference} correct (reference ${c.reference}` +
          `${c.gpuError !== null ? `, GPU error ${c.gpuError.toExponential(1)}` : ""}), ` +
          `seeds mean ${c.seeds.mean.toFixed(3)}; notebook ${c.notebook}; ${
            ((performance.now() - t0) / 1000).toFixed(0)
          } s`,
      );
    }
  }
  const { X } = notebookData(images, 10, n, 0);
  const trajectories: Trajectory[] = [];
  for (const mode of MODES) {
    const t = await trajectory(ctx, X, 1, 7, mode);
    trajectories.push(t);
    const last = t.overlap[t.overlap.length - 1];
    log(
      `${mode.mode}: final correlations ${last.map((v) => v.toFixed(2)).join(" ")}` +
        (t.gpuError !== null ? ` (GPU error ${t.gpuError.toExponential(1)}` : " (") +
        `, float32 rounding of the data moves it by ${t.roundingSpread.toExponential(1)})`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `CDAM on Fashion-MNIST (test images 0..P-1 / max pixel, empty memory graph, beta ${BETA}, ` +
      `eta ${ETA}, ${STEPS} steps, c = ${C}; start = pattern + U(-0.5, 0.5)); correct fraction = ` +
      `patterns whose own final state correlates best (of the P) with their start. ${
        ctx ? `GPU: ${ctx.info}` : "float64 reference"
      }\n`,
  );
  console.log(table(cells, opts.Ps));
  console.log(`\n${seconds.toFixed(0)} s`);
  const out = opts.out ||
    `bench/results/cdam-${slug(ctx?.info ?? "cpu")}-${dateStamp(new Date())}.json`;
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        experiment: "CDAM (MATH.md 7.7), bench/cdam.ts",
        adapter: ctx?.info ?? null,
        data: "Fashion-MNIST test images 0..P-1 / max pixel",
        setup: {
          beta: BETA,
          eta: ETA,
          steps: STEPS,
          c: C,
          noise: "U(-0.5, 0.5)",
          seeds: opts.seeds,
        },
        seconds,
        cells,
        modes: trajectories.map((t) => ({
          ...t,
          graph: "directed cycle, edges i+1 -> i",
          seed: 7,
        })),
      },
      null,
      1,
    ) + "\n",
  );
  log(`wrote ${out}`);
  if (opts.svg) {
    await Deno.writeTextFile(opts.svg, figure(trajectories));
    log(`wrote ${opts.svg}`);
  }
}

if (import.meta.main) await main();
