// What the Universal Hopfield Networks similarities share (MATH.md 7.2; Millidge et al. 2022,
// BerenMillidge/Theory_Associative_Memory functions.py): the floors that keep every score finite
// and the float64 helpers of their references. One number per guard, used verbatim by the float64
// references and the WGSL lowerings, so both paths floor at the same places.
//
// - Reciprocal distances s = 1 / d: d is floored at RELATIVE_FLOOR times the scale of the pair
//   (sum |x| + sum |q| for manhattan, |x|^2 + |q|^2 for euclidean) and at ABSOLUTE_FLOOR (for
//   x = q = 0), so an exact match scores a large finite number (1e12 / scale), never Inf.
// - Divergences (kl, reverse_kl, js) compare the sum-normalized rows x^ = x / sum x and
//   q^ = q / sum q. Inside every log an entry counts as at least LOG_FLOOR, so p log p at p = 0 is
//   0 * log(LOG_FLOOR) = 0 exactly, and log 0 never appears: KL(p || r) with r_j = 0 < p_j is large
//   and finite instead of infinite. The divergence is floored at DIVERGENCE_FLOOR before 1 / D.
// - A row or query whose sum is not positive has no distribution: its score is 0 (the aux number
//   inv_sum is 0 for it, runtime/blocked/types.ts AuxKind).
import { f32 } from "../../wgsl/types.ts";

export const RELATIVE_FLOOR = 1e-12;
export const ABSOLUTE_FLOOR = 1e-20;
export const LOG_FLOOR = 1e-30;
export const DIVERGENCE_FLOOR = 1e-12;

/** The floored distance max(d, RELATIVE_FLOOR * scale, ABSOLUTE_FLOOR). */
export function flooredDistance(d: number, scale: number): number {
  return Math.max(d, RELATIVE_FLOOR * scale, ABSOLUTE_FLOOR);
}

/** WGSL of 1 / flooredDistance(acc, scale). */
export function reciprocalWgsl(scale: string): string {
  return `1.0 / max(acc, max(${f32(RELATIVE_FLOOR)} * (${scale}), ${f32(ABSOLUTE_FLOOR)}))`;
}

/** 1 / sum v (0 when the sum is not positive), the aux number inv_sum. */
export function inverseSum(v: Float64Array, offset: number, length: number): number {
  let s = 0;
  for (let j = 0; j < length; j++) s += v[offset + j];
  return s > 0 ? 1 / s : 0;
}

/** log(max(v, LOG_FLOOR)). */
export function guardedLog(v: number): number {
  return Math.log(Math.max(v, LOG_FLOOR));
}

/** WGSL vec4 of guardedLog. */
export function guardedLogWgsl(v: string): string {
  return `log(max(${v}, vec4<f32>(${f32(LOG_FLOOR)})))`;
}

/** The score 1 / max(D, DIVERGENCE_FLOOR), or 0 when the row or the query has no distribution. */
export function reciprocalDivergence(D: number, rowInvSum: number, queryInvSum: number): number {
  if (!(rowInvSum > 0 && queryInvSum > 0)) return 0;
  return 1 / Math.max(D, DIVERGENCE_FLOOR);
}

/** WGSL of reciprocalDivergence(acc, mem_aux, query_aux). */
export const RECIPROCAL_DIVERGENCE_WGSL = `select(0.0, 1.0 / max(acc, ${
  f32(DIVERGENCE_FLOOR)
}), mem_aux > 0.0 && query_aux > 0.0)`;

/**
 * The divergence of every memory row from the query, D_i = sum_j term(x^_ij, q^_j), into `out`
 * as the reciprocal score, for kl, reverse_kl and js (x^ and q^ sum-normalized; a row or query
 * with no distribution scores 0).
 */
export function divergenceScores(
  X: { rows: number; cols: number; data: Float64Array },
  q: Float64Array,
  term: (a: number, b: number) => number,
  out: Float64Array,
): void {
  const D = X.cols;
  const qi = inverseSum(q, 0, D);
  for (let i = 0; i < X.rows; i++) {
    const o = i * D;
    const xi = inverseSum(X.data, o, D);
    let div = 0;
    for (let j = 0; j < D; j++) div += term(X.data[o + j] * xi, q[j] * qi);
    out[i] = reciprocalDivergence(div, xi, qi);
  }
}
