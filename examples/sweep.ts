// A protocol sweep in one process, as the papers run them: models x parameters x data sets, each
// run retrieving half-masked queries and scoring how often the right memory comes back. One device
// serves every run and each distinct kernel is compiled once: reloading a model with other
// memories reuses its pipelines, and the counts at the end say so.
//
//   deno run -A examples/sweep.ts [--seeds N] [--M M] [--D D]
//
// It uses only the library entry point (mod.ts), as a user of the package would.
import { acquireDevice, compile, compileStats, load, type Matrix, reference } from "../mod.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

const SOURCE = `
param b = 8
model softmax   { beta b }
model entmax15  { entropy tsallis(alpha = 1.5)  beta b }
model sparsemax { entropy sparsemax  beta b }
`;
const BETAS = [2, 8, 32];

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) {
    console.error(`sweep: --${name} wants a positive integer, got \`${Deno.args[i + 1]}\``);
    Deno.exit(2);
  }
  return v;
}
const seeds = flag("seeds", 3), M = flag("M", 256), D = flag("D", 32), B = 32;

/** Uniform draws in [0, 1) (mulberry32), deterministic in the seed. */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** M random ±1/sqrt(D) patterns, and B of them with their second half zeroed as queries. */
function dataSet(seed: number): { X: Matrix; Q: Matrix; targets: number[] } {
  const u = uniform(seed);
  const X = new Float64Array(M * D).map(() => (u() < 0.5 ? -1 : 1) / Math.sqrt(D));
  const targets = Array.from({ length: B }, () => Math.floor(u() * M));
  const Q = new Float64Array(B * D);
  targets.forEach((t, b) => {
    for (let d = 0; d < D / 2; d++) Q[b * D + d] = X[t * D + d];
  });
  return { X: { rows: M, cols: D, data: X }, Q: { rows: B, cols: D, data: Q }, targets };
}

/** Share of queries whose state is closest (by cosine) to their own memory. */
function recall(states: ArrayLike<number>, X: Matrix, targets: number[]): number {
  let hits = 0;
  targets.forEach((target, b) => {
    let best = -1, bestCos = -Infinity;
    for (let i = 0; i < M; i++) {
      let dot = 0, nn = 0;
      for (let d = 0; d < D; d++) {
        dot += states[b * D + d] * X.data[i * D + d];
        nn += states[b * D + d] ** 2;
      }
      const cos = dot / Math.sqrt(nn || 1);
      if (cos > bestCos) [best, bestCos] = [i, cos];
    }
    if (best === target) hits++;
  });
  return hits / targets.length;
}

const gpu = await acquireDevice();
const data = Array.from({ length: seeds }, (_, s) => dataSet(s + 1));
console.log(`sweep on ${gpu.info}: M = ${M}, D = ${D}, B = ${B}, ${seeds} data set(s)`);
console.log("model      beta  recall  max error vs float64   ms (first load incl. compile)");
const t0 = performance.now();
let runs = 0;
for (const beta of BETAS) {
  const result = compile(SOURCE, { file: "sweep.hop", sets: { b: beta } });
  if (!result.ok) throw new Error(result.format());
  for (const model of result.models) {
    const recalls: number[] = [], errors: number[] = [], times: number[] = [];
    for (const { X, Q, targets } of data) {
      const t = performance.now();
      const memory = await load(gpu, model, X);
      const { states } = await memory.retrieve(Q);
      memory.destroy();
      times.push(performance.now() - t);
      const exact = reference(model, X, Q).states.data;
      let err = 0, scale = 0;
      for (let i = 0; i < exact.length; i++) {
        err = Math.max(err, Math.abs(states.data[i] - exact[i]));
        scale = Math.max(scale, Math.abs(exact[i]));
      }
      errors.push(err / scale);
      recalls.push(recall(states.data, X, targets));
      runs++;
    }
    const mean = recalls.reduce((a, b) => a + b, 0) / recalls.length;
    console.log(
      `${model.name.padEnd(10)} ${String(beta).padStart(4)}  ${
        (100 * mean).toFixed(0).padStart(5)
      }%` +
        `  ${Math.max(...errors).toExponential(1).padStart(21)}   ` +
        times.map((t) => t.toFixed(0)).join(", "),
    );
  }
}
const stats = compileStats();
console.log(
  `${runs} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s; pipelines compiled: ` +
    `${stats.builds} (one per model and beta: beta is part of the WGSL), reused: ${stats.hits}`,
);
