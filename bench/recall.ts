// `deno task experiment:recall`: the HFY paper's free and sequential recall tasks (MATH.md 2.7 E2;
// deep-spin/HFYN scripts/memory_retrieval_modeling.py) on Fashion-MNIST, through `recall`
// (src/recall/protocol.ts) on the float64 reference, with a GPU check of the recalled sequences.
//
//   deno run -A bench/recall.ts [--N 8,16,32,64,128,256] [--betas 0.03125,...,8] [--sweep-N 64]
//                               [--seeds 5] [--gpu-check 32] [--out PATH] [--svg PATH]
//
// Protocol, as the authors' code runs it: pixels / 255 normalized to [−1, 1] (Normalize(0.5, 0.5)),
// D = 784. Each seed draws N memories at random (here from the first 10,000 training images, a
// seeded shuffle; the authors use torch.randperm over all 60,000) and recalls N times from x_0:
//
//   free (softmax, 1.5-entmax, sparsemax)  γ = 1e9, rate 0.001, 20 settle steps at β
//   csparsemax                              20 constrained-sparsemax steps, u ← max(u − p, 0)
//   sequential (the same three entropies)   SequenceBudget k = 2, edge score 1e8, ω = 1.1, then 20
//                                           settle steps at β' = 1 (the authors' settle steps call
//                                           entmax(XQ) without beta)
//
// Metrics: unique memory ratio (free, csparsemax) and Levenshtein coefficient against [1..N]
// (sequential); median and IQR (25-75%, linear interpolation as numpy's percentile) over the
// seeds. β = 0.1 over N, then a β sweep at one N for the free methods. --gpu-check N: seed 0 at
// that N rerun with every retrieval on the GPU (csparsemax in its own kernel); the recalled
// sequences must be identical. Output: a table on stdout, JSON under
// bench/results/, an SVG figure.
import { loadFashionMnist } from "./lib/fashion_mnist.ts";
import { linePlot, panels, type Series } from "./lib/svg.ts";
import { dateStamp } from "./lib/common.ts";
import { checkText } from "../src/check.ts";
import type { Model } from "../src/ir.ts";
import type { Mat } from "../src/parts/types.ts";
import { recall, type RecallMode } from "../src/recall/protocol.ts";
import { acquireDevice } from "../src/runtime/device.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

/** One method of the figure: a recall mode over a model entropy. */
export interface Method {
  label: string;
  mode: RecallMode;
  entropy: string;
  metric: "unique" | "levenshtein";
}

export const METHODS: Method[] = [
  { label: "free softmax", mode: "free", entropy: "shannon", metric: "unique" },
  { label: "free 1.5-entmax", mode: "free", entropy: "tsallis(alpha = 1.5)", metric: "unique" },
  { label: "free sparsemax", mode: "free", entropy: "sparsemax", metric: "unique" },
  { label: "csparsemax", mode: "csparsemax", entropy: "sparsemax", metric: "unique" },
  { label: "seq softmax", mode: "sequential", entropy: "shannon", metric: "levenshtein" },
  {
    label: "seq 1.5-entmax",
    mode: "sequential",
    entropy: "tsallis(alpha = 1.5)",
    metric: "levenshtein",
  },
  { label: "seq sparsemax", mode: "sequential", entropy: "sparsemax", metric: "levenshtein" },
];

/** Images drawn from this many first training images. */
export const POOL = 10_000;

export function modelFor(entropy: string, beta: number): Model {
  const { models, diagnostics } = checkText(
    `model recall { entropy ${entropy} beta ${beta} }`,
    "recall.hop",
  );
  if (diagnostics.some((d) => d.severity === "error")) {
    throw new Error(diagnostics.map((d) => d.message).join("; "));
  }
  return models[0];
}

/** A seeded Fisher-Yates shuffle of 0..n-1 (an LCG: the same draw on every machine). */
export function shuffle(n: number, seed: number): number[] {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/** N memories for a seed, pixels in [0, 1] mapped to [−1, 1]. */
export function memories(images: Float64Array, pool: number, D: number, N: number, seed: number) {
  const pick = shuffle(pool, seed).slice(0, N);
  const X: Mat = { rows: N, cols: D, data: new Float64Array(N * D) };
  pick.forEach((k, i) => {
    for (let d = 0; d < D; d++) X.data[i * D + d] = 2 * images[k * D + d] - 1;
  });
  return X;
}

/** numpy's percentile (linear interpolation between closest ranks). */
export function percentile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * q / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export interface Cell {
  method: string;
  N: number;
  beta: number;
  metric: Method["metric"];
  values: number[];
  median: number;
  q25: number;
  q75: number;
  /** The other metric's median (unique ratio for sequential, Levenshtein for free). */
  otherMedian: number;
  seconds: number;
}

export async function runCell(
  method: Method,
  images: Float64Array,
  pool: number,
  D: number,
  N: number,
  beta: number,
  seeds: number,
): Promise<Cell> {
  const t0 = performance.now();
  const model = modelFor(method.entropy, beta);
  const values: number[] = [], other: number[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const X = memories(images, pool, D, N, seed);
    const out = await recall(model, X, {
      mode: method.mode,
      settleBeta: method.mode === "sequential" ? 1 : undefined,
    });
    const lev = out.levenshtein ?? 0;
    values.push(method.metric === "unique" ? out.uniqueRatio : lev);
    other.push(method.metric === "unique" ? lev : out.uniqueRatio);
  }
  return {
    method: method.label,
    N,
    beta,
    metric: method.metric,
    values,
    median: percentile(values, 50),
    q25: percentile(values, 25),
    q75: percentile(values, 75),
    otherMedian: percentile(other, 50),
    seconds: (performance.now() - t0) / 1000,
  };
}

const fmt = (c: Cell) => `${c.median.toFixed(3)} [${c.q25.toFixed(2)}, ${c.q75.toFixed(2)}]`;

export function table(cells: Cell[], key: "N" | "beta", keys: number[]): string {
  const methods = [...new Set(cells.map((c) => c.method))];
  const head = `| method | metric | ${
    keys.map((k) => `${key === "N" ? "N" : "β"}=${k}`).join(" | ")
  } |`;
  const rule = `| --- | --- | ${keys.map(() => "---").join(" | ")} |`;
  const rows = methods.map((m) => {
    const mine = cells.filter((c) => c.method === m);
    const metric = mine[0].metric === "unique" ? "unique ratio" : "Levenshtein";
    return `| ${m} | ${metric} | ${
      keys.map((k) => {
        const c = mine.find((c) => c[key] === k);
        return c ? fmt(c) : "-";
      }).join(" | ")
    } |`;
  });
  return [head, rule, ...rows].join("\n");
}

export function figure(overN: Cell[], overBeta: Cell[], sweepN: number): string {
  const plot = (cells: Cell[], metric: Method["metric"], key: "N" | "beta", title: string) => {
    const methods = [...new Set(cells.filter((c) => c.metric === metric).map((c) => c.method))];
    const series: Series[] = methods.map((m) => {
      const mine = cells.filter((c) => c.method === m);
      return { label: m, x: mine.map((c) => c[key]), y: mine.map((c) => c.median) };
    });
    return linePlot({
      title,
      xLabel: key === "N" ? "memories N" : "beta",
      yLabel: metric === "unique" ? "unique memory ratio" : "Levenshtein coefficient",
      series,
      logX: true,
    });
  };
  return panels([
    plot(overN, "unique", "N", "Free recall, beta = 0.1 (median of 5 seeds)"),
    plot(overN, "levenshtein", "N", "Sequential recall, beta = 0.1"),
    plot(overBeta, "unique", "beta", `Free recall over beta, N = ${sweepN}`),
  ], 3);
}

function parseArgs(argv: string[]) {
  const opts = {
    Ns: [8, 16, 32, 64, 128, 256],
    betas: [0.03125, 0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8],
    sweepN: 64,
    seeds: 5,
    gpuCheck: 32,
    out: "",
    svg: "bench/results/recall.svg",
  };
  const list = (v: string) => v.split(",").map(Number);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === "--N") opts.Ns = list(v), i++;
    else if (a === "--betas") opts.betas = list(v), i++;
    else if (a === "--sweep-N") opts.sweepN = Number(v), i++;
    else if (a === "--seeds") opts.seeds = Number(v), i++;
    else if (a === "--gpu-check") opts.gpuCheck = Number(v), i++;
    else if (a === "--out") opts.out = v, i++;
    else if (a === "--svg") opts.svg = v, i++;
    else throw new Error(`bench/recall.ts: unknown argument ${a}`);
  }
  if ([...opts.Ns, opts.sweepN, opts.seeds].some((n) => !(Number.isInteger(n) && n >= 2))) {
    throw new Error("--N, --sweep-N, --seeds: integers >= 2");
  }
  if (opts.betas.some((b) => !(b > 0))) throw new Error("--betas: positive numbers");
  return opts;
}

async function main() {
  const opts = parseArgs(Deno.args);
  const log = (s: string) => console.error(s);
  const { images, side } = await loadFashionMnist({ split: "train", limit: POOL });
  const D = side * side;
  const t0 = performance.now();
  const since = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const overN: Cell[] = [];
  for (const N of opts.Ns) {
    for (const m of METHODS) {
      const c = await runCell(m, images, POOL, D, N, 0.1, opts.seeds);
      overN.push(c);
      log(`N=${N} ${m.label}: ${fmt(c)} (${c.seconds.toFixed(1)} s, ${since()})`);
    }
  }
  const overBeta: Cell[] = [];
  for (const beta of opts.betas) {
    for (const m of METHODS.filter((m) => m.metric === "unique")) {
      const c = await runCell(m, images, POOL, D, opts.sweepN, beta, opts.seeds);
      overBeta.push(c);
      log(`beta=${beta} N=${opts.sweepN} ${m.label}: ${fmt(c)} (${since()})`);
    }
  }
  // The GPU check: seed 0 at one N, each retrieval on the GPU, the same recalled sequence.
  const gpuCheck: { method: string; N: number; identical: boolean; device: string }[] = [];
  let adapter = "none";
  if (opts.gpuCheck >= 2) {
    const ctx = await acquireDevice({ required: false });
    if (ctx) {
      adapter = ctx.info;
      const X = memories(images, POOL, D, opts.gpuCheck, 0);
      for (const m of METHODS) {
        const model = modelFor(m.entropy, 0.1);
        const o = { mode: m.mode, settleBeta: m.mode === "sequential" ? 1 : undefined };
        const cpu = await recall(model, X, o);
        const gpu = await recall(model, X, o, ctx);
        const identical = cpu.recalled.join() === gpu.recalled.join();
        gpuCheck.push({ method: m.label, N: opts.gpuCheck, identical, device: ctx.info });
        log(`gpu check N=${opts.gpuCheck} ${m.label}: ${identical ? "identical" : "DIFFERS"}`);
      }
    } else log("gpu check: no WebGPU adapter, skipped");
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `HFY recall (MATH.md 2.7 E2) on Fashion-MNIST in [-1, 1], ${opts.seeds} seeds, median [25%, 75%]\n`,
  );
  console.log(`beta = 0.1:\n\n${table(overN, "N", opts.Ns)}\n`);
  console.log(`free recall, N = ${opts.sweepN}:\n\n${table(overBeta, "beta", opts.betas)}\n`);
  if (gpuCheck.length) {
    console.log(
      `GPU check (seed 0, N = ${opts.gpuCheck}, ${adapter}): ${
        gpuCheck.map((g) => `${g.method} ${g.identical ? "identical" : "DIFFERS"}`).join(", ")
      }`,
    );
  }
  console.log(`\n${seconds.toFixed(0)} s`);
  const out = opts.out || `bench/results/recall-${dateStamp(new Date())}.json`;
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        experiment: "HFY free and sequential recall (MATH.md 2.7 E2), bench/recall.ts",
        data: `Fashion-MNIST train, N drawn per seed from the first ${POOL}, 2 * pixel / 255 - 1`,
        protocol: {
          gamma: 1e9,
          rate: 0.001,
          omega: 1.1,
          edgeScore: 1e8,
          settle: 20,
          settleBeta: "beta (free), 1 (sequential, as the authors' code)",
          recalls: "N, from x_0",
          levenshteinTarget: "[1..N]",
        },
        seeds: opts.seeds,
        seconds,
        overN,
        overBeta,
        sweepN: opts.sweepN,
        gpuCheck,
      },
      null,
      2,
    ) + "\n",
  );
  log(`wrote ${out}`);
  if (opts.svg) {
    await Deno.writeTextFile(opts.svg, figure(overN, overBeta, opts.sweepN));
    log(`wrote ${opts.svg}`);
  }
}

if (import.meta.main) await main();
