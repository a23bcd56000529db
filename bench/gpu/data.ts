// The data and the models of the GPU benchmark (bench/gpu/), shared by bench.ts, its reference
// worker and the tests. torch_bench.py builds the SAME data bit for bit (up to the last bit of a
// float64 row norm), so the states of hopc and of PyTorch can be compared directly.
//
// Random numbers: mulberry32 in counter form. Value n of stream `seed` is mulberry32's output
// after n + 1 increments of its state, computed from n alone, so any entry can be made on its own
// (numpy and torch make whole blocks at once with 64-bit integer arithmetic):
//
//   s = (seed + (n + 1) * 0x6d2b79f5) mod 2^32
//   t = imul(s ^ (s >>> 15), s | 1)
//   t ^= t + imul(t ^ (t >>> 7), t | 61)
//   u = ((t ^ (t >>> 14)) >>> 0) / 2^32                       in [0, 1)
//
// Memories: X[i, d] = 2 u(seedX, i*D + d) - 1, each row then divided by its norm (unit-norm rows).
// Queries: Q[b, d] = X[(7 b) mod M, d] + sigma (2 u(seedQ, b*D + d) - 1) with
// sigma = 0.3 sqrt(3 / D) (noise of norm about 0.3), not normalised. Query b does not depend on B.
//   seedX = (1000003 M + 7919 D) mod 2^32,  seedQ = seedX ^ 0x5bd1e995.
import { checkText } from "../../src/check.ts";
import type { Model } from "../../src/ir.ts";
import type { Mat } from "../../src/parts/types.ts";

export function hashUniform(seed: number, n: number): number {
  // `seed | 0`: the same low 32 bits as an int32, which keeps V8 on small integers.
  let t = ((seed | 0) + Math.imul(n + 1, 0x6d2b79f5)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export function seeds(M: number, D: number): { seedX: number; seedQ: number } {
  const seedX = (1000003 * M + 7919 * D) % 4294967296;
  return { seedX, seedQ: (seedX ^ 0x5bd1e995) >>> 0 };
}

/** A float64 array on a SharedArrayBuffer, so reference workers read it without a copy. */
function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(n * 8));
}

/** The memories and queries of shape (M, D, B), as described at the top of this file. */
export function makeData(M: number, D: number, B: number): { X: Mat; Q: Mat } {
  const seedX = seeds(M, D).seedX | 0, seedQ = seeds(M, D).seedQ | 0;
  const x = sharedFloat64(M * D);
  for (let i = 0; i < M; i++) {
    const row = i * D;
    let ss = 0;
    for (let d = 0; d < D; d++) {
      const v = 2 * hashUniform(seedX, row + d) - 1;
      x[row + d] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let d = 0; d < D; d++) x[row + d] *= inv;
  }
  const sigma = 0.3 * Math.sqrt(3 / D);
  const q = sharedFloat64(B * D);
  for (let b = 0; b < B; b++) {
    const j = ((7 * b) % M) * D;
    for (let d = 0; d < D; d++) {
      q[b * D + d] = x[j + d] + sigma * (2 * hashUniform(seedQ, b * D + d) - 1);
    }
  }
  return { X: { rows: M, cols: D, data: x }, Q: { rows: B, cols: D, data: q } };
}

/** The maps the benchmark times: name -> the `.hop` lines that select it. */
export const MAPS = {
  softmax: "entropy shannon",
  "1.5-entmax": "entropy tsallis(alpha = 1.5)",
  sparsemax: "entropy sparsemax",
  "2-normmax": "entropy normmax(gamma = 2)",
  "topk-softmax": "entropy shannon\n  mask topk(k = 32)",
} as const;
export type MapName = keyof typeof MAPS;
export const MAP_NAMES = Object.keys(MAPS) as MapName[];

/** The `.hop` text of one benchmark model: dot similarity, identity post, fixed steps. */
export function modelText(map: MapName, beta: number, steps: number): string {
  return `model gpu_bench_${map.replace(/\W/g, "_")} {\n  similarity dot\n  ${
    MAPS[map]
  }\n  post identity\n  beta ${beta}\n  steps ${steps}\n}\n`;
}

/** Parse and check a model text through hopc's front end (grammar/, src/check.ts). */
export function buildModel(text: string): Model {
  const { models, diagnostics } = checkText(text, "gpu_bench.hop");
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || models.length !== 1) {
    throw new Error(
      `benchmark model does not check: ${errors.map((d) => d.message).join("; ")}\n${text}`,
    );
  }
  return models[0];
}
