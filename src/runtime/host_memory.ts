// The host's part of `load`: what a model's kernel reads as its memory rows, prepared once per load
// in float64 before the upload.
//
//   discrete                       the memories as given (the GPU post-transforms them itself)
//   continuous, box + exact        the N pooled rows (the compiler's pooled pass, MATH.md 4.2)
//   continuous, quadrature         the N fitted coefficient rows, and the signal's norm at every
//                                  sample point when the similarity needs it
//   features                       [W; KV] (or KV for elu) and ksum, c_k (MATH.md 5.2)
//
// The fits run on the host in float64 on purpose: the ridge system and the key shift of the
// positive features are where float32 would lose digits, and both are O(L D) to O(L F D) once per
// load, against the kernel's work per query batch. A banded Cholesky keeps the gaussian fit at
// O(L D + N b^2) with b the band (about 19 rows at the default width).
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { buildKernelState } from "../parts/similarity/features.ts";
import { fitCoefficients, sampledBasis } from "../reference/continuous.ts";
import { prepareMemories } from "../reference/interpreter.ts";
import { similarityWgsl } from "../wgsl/lowerings.ts";

export interface HostMemory {
  /** The rows the kernel reads (uploaded as its memory buffer). */
  rows: Mat;
  /** Per-row numbers for a kernel whose memoryAux is `host`. */
  aux?: Float64Array;
  /** The rows already went through the input post-transform. */
  transformed: boolean;
}

export function hostMemory(model: Model, X: Mat): HostMemory {
  if (model.similarity.kind === "features") {
    const state = buildKernelState(prepareMemories(model, X), model.similarity, model.beta);
    const F = state.ksum.length, D = X.cols;
    const rows = state.W ? F * 2 : F;
    const data = new Float64Array(rows * D);
    if (state.W) data.set(state.W.data, 0);
    data.set(state.KV.data, state.W ? F * D : 0);
    const aux = new Float64Array(F + 1);
    aux.set(state.ksum, 0);
    aux[F] = state.keyShift;
    return { rows: { rows, cols: D, data }, aux, transformed: true };
  }
  if (model.memory.kind === "continuous") {
    const coeffs = fitCoefficients(model.memory, prepareMemories(model, X));
    const need = similarityWgsl(model.similarity).memoryAux;
    if (need === "none" || model.memory.quadrature === "exact" && model.memory.basis === "box") {
      // The pooled form computes its rows' norms on the GPU like any discrete memory.
      return { rows: coeffs, transformed: true };
    }
    // The signal x(t_j) = B^T psi(t_j) at each sample point: its norm, or half its square.
    const psi = sampledBasis(model.memory);
    const N = coeffs.rows, D = coeffs.cols;
    const aux = new Float64Array(psi.rows);
    const x = new Float64Array(D);
    for (let j = 0; j < psi.rows; j++) {
      x.fill(0);
      for (let n = 0; n < N; n++) {
        const a = psi.data[j * N + n];
        if (a === 0) continue;
        for (let d = 0; d < D; d++) x[d] += a * coeffs.data[n * D + d];
      }
      let sq = 0;
      for (let d = 0; d < D; d++) sq += x[d] * x[d];
      aux[j] = need === "norm" ? Math.sqrt(sq) : 0.5 * sq;
    }
    return { rows: coeffs, aux, transformed: true };
  }
  return { rows: X, transformed: false };
}
