// A learned linear feature map phi(x) = W x + b (W: F x D, b: F or none), the map of U-Hop
// (MATH.md 6.1: W in R^{D x D}, no bias) and of the kernelized Hopfield model (7.9: nn.Linear into
// D_phi dimensions), with the unit normalization its separation losses see and the backward passes
// of both. Row-major Float64Arrays throughout; rows of X are memories.
import { gaussian, uniform01 } from "../parts/rng.ts";

export interface LinearMap {
  /** D, the dimension of a memory. */
  inputs: number;
  /** F, the dimension of a feature. */
  outputs: number;
  /** W, F x D row-major. */
  weight: Float64Array;
  /** b (F), or null for a map without bias. */
  bias: Float64Array | null;
}

/**
 * A random initial map from the counter RNG (entry (f, d) of W is gaussian(seed, f, d)), scaled
 * by `std`: 1 for U-Hop's `torch.randn(d, d)`, sqrt(2 / D) for nn.Linear under Kaiming-normal.
 * The bias, when there is one, is nn.Linear's default: uniform on [-1/sqrt(D), 1/sqrt(D)].
 */
export function randomMap(
  inputs: number,
  outputs: number,
  seed: number,
  std: number,
  withBias: boolean,
): LinearMap {
  const weight = new Float64Array(outputs * inputs);
  for (let f = 0; f < outputs; f++) {
    for (let d = 0; d < inputs; d++) weight[f * inputs + d] = std * gaussian(seed, f, d);
  }
  let bias: Float64Array | null = null;
  if (withBias) {
    bias = new Float64Array(outputs);
    const bound = 1 / Math.sqrt(inputs);
    // Counter row `outputs` is unused by W, so the bias draws are independent of it.
    for (let f = 0; f < outputs; f++) bias[f] = bound * (2 * uniform01(seed, outputs, f) - 1);
  }
  return { inputs, outputs, weight, bias };
}

/** phi(X) = X W^T + 1 b^T for the `rows` rows of X (rows x D), as rows x F. */
export function applyMap(map: LinearMap, X: ArrayLike<number>, rows: number): Float64Array {
  const { inputs: D, outputs: F, weight: W, bias } = map;
  const out = new Float64Array(rows * F);
  for (let i = 0; i < rows; i++) {
    for (let f = 0; f < F; f++) {
      let s = bias ? bias[f] : 0;
      const w = f * D;
      const x = i * D;
      for (let d = 0; d < D; d++) s += W[w + d] * X[x + d];
      out[i * F + f] = s;
    }
  }
  return out;
}

/**
 * Unit-normalized rows z_i = phi_i / |phi_i|, and the norms. A zero feature (|phi_i| = 0) stays
 * zero and passes no gradient: it has no direction to separate.
 */
export function normalizeRows(
  Phi: Float64Array,
  rows: number,
  F: number,
): { Z: Float64Array; norms: Float64Array } {
  const Z = new Float64Array(rows * F);
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let f = 0; f < F; f++) s += Phi[i * F + f] ** 2;
    const n = Math.sqrt(s);
    norms[i] = n;
    if (n > 0) { for (let f = 0; f < F; f++) Z[i * F + f] = Phi[i * F + f] / n; }
  }
  return { Z, norms };
}

/** dL/dphi from dL/dz through z = phi / |phi|: (dz - (dz . z) z) / |phi|, row by row. */
export function normalizeBackward(
  dZ: Float64Array,
  Z: Float64Array,
  norms: Float64Array,
  rows: number,
  F: number,
): Float64Array {
  const dPhi = new Float64Array(rows * F);
  for (let i = 0; i < rows; i++) {
    const n = norms[i];
    if (n === 0) continue;
    let dot = 0;
    for (let f = 0; f < F; f++) dot += dZ[i * F + f] * Z[i * F + f];
    for (let f = 0; f < F; f++) dPhi[i * F + f] = (dZ[i * F + f] - dot * Z[i * F + f]) / n;
  }
  return dPhi;
}

/** dL/dW = dPhi^T X (F x D) and dL/db = dPhi^T 1 (F), skipping rows of dPhi that are zero. */
export function mapGradient(
  map: LinearMap,
  dPhi: Float64Array,
  X: ArrayLike<number>,
  rows: number,
): { weight: Float64Array; bias: Float64Array | null } {
  const { inputs: D, outputs: F } = map;
  const weight = new Float64Array(F * D);
  const bias = map.bias ? new Float64Array(F) : null;
  for (let i = 0; i < rows; i++) {
    let any = false;
    for (let f = 0; f < F && !any; f++) any = dPhi[i * F + f] !== 0;
    if (!any) continue;
    for (let f = 0; f < F; f++) {
      const g = dPhi[i * F + f];
      if (g === 0) continue;
      if (bias) bias[f] += g;
      const w = f * D;
      const x = i * D;
      for (let d = 0; d < D; d++) weight[w + d] += g * X[x + d];
    }
  }
  return { weight, bias };
}
