// The page's data: the built-in image sets (or a dropped `.npy`), which rows become memories, and
// the queries made from them by a corruption the user picks. Corruptions are seeded with hopc's
// counter hash so a run is reproducible: the browser test rebuilds the same queries from what the
// page reports, and a reload shows the same noise.
import { gaussian, type Mat, parseNpy, uniform01 } from "./hopc_api.ts";

export const BUILT_IN: Record<string, { file: string; label: string }> = {
  mnist: { file: "data/mnist.npy", label: "MNIST digits (250)" },
  fashion: { file: "data/fashion.npy", label: "Fashion-MNIST (250)" },
};

/** A built-in set, fetched next to the page. */
export async function fetchBuiltIn(name: string): Promise<Mat> {
  const entry = BUILT_IN[name];
  if (!entry) throw new Error(`no built-in data set ${name}`);
  const res = await fetch(entry.file);
  if (!res.ok) throw new Error(`${entry.file}: HTTP ${res.status}`);
  return parseNpy(new Uint8Array(await res.arrayBuffer()), entry.file);
}

/** A user's `.npy` (2-D float32 or float64); parse errors are hopc's input diagnostics. */
export async function readDropped(file: File): Promise<Mat> {
  return parseNpy(new Uint8Array(await file.arrayBuffer()), file.name);
}

export type Corruption = "mask" | "noise" | "pixels";

export interface QuerySpec {
  /** Memories: the first `memories` rows of the set. */
  memories: number;
  /** Queries: corrupted copies of memories 0, step, 2 step, ... (step spreads them over the set). */
  queries: number;
  corruption: Corruption;
  /** mask: the bottom fraction zeroed; noise: the Gaussian's sigma; pixels: the fraction replaced. */
  amount: number;
  /** Rows scaled to unit length before use, so that `dot` and `beta` mean the same on any set. */
  normalize: boolean;
  seed: number;
}

function unitRows(m: Mat): Mat {
  const out = new Float64Array(m.data);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let c = 0; c < m.cols; c++) s += out[r * m.cols + c] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < m.cols; c++) out[r * m.cols + c] *= inv;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

/** Index of the memory query b starts from. */
export function sourceIndex(spec: QuerySpec, b: number): number {
  const step = Math.max(1, Math.floor(spec.memories / spec.queries));
  return (b * step) % spec.memories;
}

/** The memories and corrupted queries a run uses. */
export function makeQueries(set: Mat, spec: QuerySpec): { X: Mat; Q: Mat; sources: number[] } {
  const M = Math.min(spec.memories, set.rows), D = set.cols;
  const rows = { rows: M, cols: D, data: set.data.slice(0, M * D) };
  const X = spec.normalize ? unitRows(rows) : rows;
  // The scale of one entry, so noise and random pixels look alike on unit and raw rows.
  let peak = 0;
  for (const v of X.data) peak = Math.max(peak, Math.abs(v));
  const B = spec.queries;
  const Q = new Float64Array(B * D);
  const sources: number[] = [];
  for (let b = 0; b < B; b++) {
    const src = sourceIndex({ ...spec, memories: M }, b);
    sources.push(src);
    for (let d = 0; d < D; d++) {
      let v = X.data[src * D + d];
      if (spec.corruption === "mask") {
        if (d >= Math.round(D * (1 - spec.amount))) v = 0; // rows in order: the bottom of an image
      } else if (spec.corruption === "noise") {
        v += spec.amount * peak * gaussian(spec.seed, b, d);
      } else if (uniform01(spec.seed + 1, b, d) < spec.amount) {
        v = peak * uniform01(spec.seed + 2, b, d);
      }
      Q[b * D + d] = v;
    }
  }
  return { X, Q: { rows: B, cols: D, data: Q }, sources };
}

/** Index of the memory nearest (Euclidean) to `state`. */
export function nearestMemory(X: Mat, state: ArrayLike<number>): number {
  let best = 0, bestD = Infinity;
  for (let i = 0; i < X.rows; i++) {
    let s = 0;
    for (let d = 0; d < X.cols; d++) s += (X.data[i * X.cols + d] - state[d]) ** 2;
    if (s < bestD) {
      bestD = s;
      best = i;
    }
  }
  return best;
}
