// Stage I of the learned similarities: fit a linear feature map to the memories by minimizing a
// separation loss (./losses.ts) over their normalized features, reproducibly from a seed, in
// float64 on the host. Two optimizers, as the authors train them:
//
//   sgd   full batch (U-Hop, MATH.md 6.1): lr constant (max loss, lr 10) or lr / sqrt(e + 1) at
//         epoch e (mean loss, lr 1). The authors' noise script compounds the decay
//         (lr <- lr / sqrt(e + 1) each epoch, i.e. lr / sqrt((e + 1)!)), which stops training
//         after a few epochs; hopc's `inverse_sqrt` is the usual non-compounding schedule.
//   adam  mini-batches of `batch` memories in a seeded random order each epoch (kernelized
//         Hopfield, 7.9: one epoch of Adam, lr 0.1, batches of 16), beta1 0.9, beta2 0.999, eps 1e-8.
//
// Full-batch SGD never forms W during training. With Phi = X W^T + 1 b^T, a step W -= lr dPhi^T X,
// b -= lr dPhi^T 1 changes the features by Phi -= lr (X X^T + 1 1^T) dPhi, so with the Gram matrix
// of the fitted memories computed once, an epoch costs O(M^2 F) (O(M F) for the max loss, whose
// gradient has two non-zero rows) instead of O(M F D); W = W0 - (sum of lr dPhi)^T X at the end.
import {
  applyMap,
  type LinearMap,
  mapGradient,
  normalizeBackward,
  normalizeRows,
  randomMap,
} from "./linear_map.ts";
import { type LossKind, minimumSeparation, separationLoss } from "./losses.ts";
import { uniform01 } from "../parts/rng.ts";
import { Adam } from "./adam.ts";

export interface FitSettings {
  loss: LossKind;
  /** t of the uniformity losses, tau of the separation loss. */
  temperature: number;
  epochs: number;
  lr: number;
  optimizer: "sgd" | "adam";
  /** SGD's schedule (unused by Adam). */
  schedule: "constant" | "inverse_sqrt";
  /** Adam's mini-batch size (SGD is full batch). */
  batch: number;
  /** The leading share of the memories the map is fitted on (U-Hop's max script: 0.5). */
  fraction: number;
  /** F, the feature dimension. */
  outputs: number;
  bias: boolean;
  /** Standard deviation of the initial W (see randomMap). */
  initStd: number;
  seed: number;
}

/** How many memories the before/after separation is measured over (it costs O(rows^2 F)). */
export const SEPARATION_ROWS = 1000;

export interface FitProgress {
  epoch: number;
  epochs: number;
  /** The loss at the start of the epoch (the mean over its batches for Adam). */
  loss: number;
}

export interface FitResult {
  map: LinearMap;
  /**
   * SGD: the loss at the start of each epoch, then after the last one (epochs + 1 values). Adam:
   * the mean loss over each epoch's batches (epochs values).
   */
  losses: number[];
  /**
   * Smallest distance between two unit-normalized features among the first SEPARATION_ROWS fitted
   * memories, before and after the fit.
   */
  separation: { before: number; after: number };
  /** How many memories the map was fitted on. */
  fitted: number;
}

/** Fit a map to the memories X (M x D) under `settings`; `onProgress` is called once per epoch. */
export function fitMap(
  X: ArrayLike<number>,
  M: number,
  D: number,
  settings: FitSettings,
  onProgress?: (p: FitProgress) => void,
): FitResult {
  if (M < 2) throw new RangeError(`fitting a similarity needs at least 2 memories, got ${M}`);
  const fitted = Math.max(2, Math.min(M, Math.round(settings.fraction * M)));
  const map = randomMap(D, settings.outputs, settings.seed, settings.initStd, settings.bias);
  const separation = (m: LinearMap) => {
    const rows = Math.min(fitted, SEPARATION_ROWS);
    const { Z } = normalizeRows(applyMap(m, X, rows), rows, m.outputs);
    return minimumSeparation(Z, rows, m.outputs);
  };
  const before = separation(map);
  const run = settings.optimizer === "sgd" ? fitSgd : fitAdam;
  const losses = run(map, X, fitted, settings, onProgress);
  return { map, losses, separation: { before, after: separation(map) }, fitted };
}

function lossAt(settings: FitSettings, Phi: Float64Array, rows: number, F: number) {
  const { Z, norms } = normalizeRows(Phi, rows, F);
  const { loss, grad } = separationLoss(settings.loss, Z, rows, F, settings.temperature);
  return { loss, dPhi: normalizeBackward(grad, Z, norms, rows, F) };
}

function fitSgd(
  map: LinearMap,
  X: ArrayLike<number>,
  M: number,
  s: FitSettings,
  onProgress?: (p: FitProgress) => void,
): number[] {
  const { inputs: D, outputs: F } = map;
  const Phi = applyMap(map, X, M);
  // Gram matrix of the fitted memories (plus 1 1^T when the bias is trained too).
  const gram = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    for (let j = i; j < M; j++) {
      let g = map.bias ? 1 : 0;
      for (let d = 0; d < D; d++) g += X[i * D + d] * X[j * D + d];
      gram[i * M + j] = g;
      gram[j * M + i] = g;
    }
  }
  const step = new Float64Array(M * F); // sum over epochs of lr * dPhi
  const losses: number[] = [];
  for (let e = 0; e < s.epochs; e++) {
    const { loss, dPhi } = lossAt(s, Phi, M, F);
    losses.push(loss);
    onProgress?.({ epoch: e + 1, epochs: s.epochs, loss });
    const lr = s.schedule === "constant" ? s.lr : s.lr / Math.sqrt(e + 1);
    for (let j = 0; j < M; j++) {
      let any = false;
      for (let f = 0; f < F && !any; f++) any = dPhi[j * F + f] !== 0;
      if (!any) continue;
      for (let f = 0; f < F; f++) step[j * F + f] += lr * dPhi[j * F + f];
      for (let i = 0; i < M; i++) {
        const c = lr * gram[i * M + j];
        if (c === 0) continue;
        for (let f = 0; f < F; f++) Phi[i * F + f] -= c * dPhi[j * F + f];
      }
    }
  }
  // W = W0 - step^T X, b = b0 - step^T 1.
  const grad = mapGradient(map, step, X, M);
  for (let k = 0; k < map.weight.length; k++) map.weight[k] -= grad.weight[k];
  if (map.bias && grad.bias) { for (let f = 0; f < F; f++) map.bias[f] -= grad.bias[f]; }
  losses.push(lossAt(s, applyMap(map, X, M), M, F).loss);
  return losses;
}

function fitAdam(
  map: LinearMap,
  X: ArrayLike<number>,
  M: number,
  s: FitSettings,
  onProgress?: (p: FitProgress) => void,
): number[] {
  const { inputs: D, outputs: F } = map;
  const adam = new Adam(map.bias ? [map.weight, map.bias] : [map.weight], s.lr);
  const batch = Math.max(2, Math.min(s.batch, M));
  const losses: number[] = [];
  const rows = new Float64Array(batch * D);
  for (let e = 0; e < s.epochs; e++) {
    // A seeded Fisher-Yates order of the memories for this epoch.
    const order = Array.from({ length: M }, (_, i) => i);
    for (let i = M - 1; i > 0; i--) {
      const j = Math.floor(uniform01(s.seed ^ 0x5bd1e995, e, i) * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let total = 0;
    let count = 0;
    // Batches of `batch` memories; a last batch of one memory has no pair and joins the previous.
    for (let start = 0; start + 1 < M; start += batch) {
      const end = M - (start + batch) === 1 ? M : Math.min(M, start + batch);
      const n = end - start;
      const Xb = n * D <= rows.length ? rows.subarray(0, n * D) : new Float64Array(n * D);
      for (let r = 0; r < n; r++) {
        const src = order[start + r] * D;
        for (let d = 0; d < D; d++) Xb[r * D + d] = X[src + d];
      }
      const { loss, dPhi } = lossAt(s, applyMap(map, Xb, n), n, F);
      total += loss;
      count++;
      const g = mapGradient(map, dPhi, Xb, n);
      adam.step(g.bias ? [g.weight, g.bias] : [g.weight]);
      if (end === M) break;
    }
    const loss = total / count;
    losses.push(loss);
    onProgress?.({ epoch: e + 1, epochs: s.epochs, loss });
  }
  return losses;
}
