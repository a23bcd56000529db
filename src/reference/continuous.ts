// Continuous-time memory (MATH.md section 4): L memories placed at t_l = (l - 1/2)/L are fitted by
// ridge regression into N basis functions over t in [0, 1], and retrieval uses a density over t.
//
//   F[n, l] = psi_n(t_l),   B = (F F^T + ridge I)^-1 F X          (N x D coefficients)
//   s(t) = beta q^T B^T psi(t),  p = normalizer density of s over [0, 1],  q+ = B^T E_p[psi(t)]
//
// Box bases with exact quadrature reduce to a discrete normalizer over the N coefficient rows
// (MATH.md 4.2): bin masses m = alpha-entmax(N^(1-alpha) s) (softmax(s) for shannon), and
// q+ = B^T m. Gaussian bases, and box bases with `quadrature = trapezoid` (the authors' 500-point
// rule), sample s at `points` uniform points and integrate with the trapezoid rule.
import type { Memory } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { basisAt, trapezoidRule } from "../runtime/hopc_host.ts";

// The basis functions, the ridge fit and the quadrature rule are shared with the runtime's host
// preparation (one implementation, self-contained so generated modules carry it).
export {
  basisAt,
  basisRange,
  boxBin,
  fitCoefficients,
  GAUSSIAN_REACH,
  trapezoidRule,
} from "../runtime/hopc_host.ts";

export type ContinuousMemory = Extract<Memory, { kind: "continuous" }>;

/** Whether this model takes the exact pooled discrete form (box basis, exact quadrature). */
export function usesPooledForm(spec: ContinuousMemory): boolean {
  return spec.basis === "box" && spec.quadrature === "exact";
}

/** Psi sampled at the quadrature points: a P x N matrix, computed once per load. */
export function sampledBasis(spec: ContinuousMemory): Mat {
  const { t } = trapezoidRule(spec.points);
  const N = spec.functions;
  const data = new Float64Array(spec.points * N);
  const row = new Float64Array(N);
  for (let j = 0; j < spec.points; j++) {
    basisAt(spec, t[j], row);
    data.set(row, j * N);
  }
  return { rows: spec.points, cols: N, data };
}

/**
 * A density over the quadrature points that integrates to 1 under weights w: the Gibbs density
 * exp(s)/Z for shannon, or the continuous alpha-entmax [(alpha-1) s - tau]_+^(1/(alpha-1)) whose
 * threshold tau is found by bisection on sum_j w_j p_j = 1.
 */
export function densityAtPoints(
  s: Float64Array,
  w: Float64Array,
  alpha: number | null,
): Float64Array {
  const P = s.length;
  let max = -Infinity;
  for (let j = 0; j < P; j++) max = Math.max(max, s[j]);
  const p = new Float64Array(P);
  if (alpha === null) {
    let Z = 0;
    for (let j = 0; j < P; j++) {
      p[j] = Math.exp(s[j] - max);
      Z += w[j] * p[j];
    }
    for (let j = 0; j < P; j++) p[j] /= Z;
    return p;
  }
  const am1 = alpha - 1;
  const x = s.map((v) => am1 * (v - max)); // max subtracted first: the top point has x = 0
  const mass = (tau: number) => {
    let m = 0;
    for (let j = 0; j < P; j++) if (x[j] > tau) m += w[j] * Math.pow(x[j] - tau, 1 / am1);
    return m;
  };
  // mass(tau) decreases in tau; at tau = 0 it is 0, and at tau = -(1/wmin)^(alpha-1) the top
  // point alone carries mass >= 1.
  let wmin = Infinity; // a loop, not Math.min(...w): P can exceed the argument limit
  for (const v of w) wmin = Math.min(wmin, v);
  let lo = -Math.pow(1 / wmin, am1), hi = 0;
  for (let it = 0; it < 200; it++) {
    const mid = 0.5 * (lo + hi);
    if (mass(mid) >= 1) lo = mid;
    else hi = mid;
  }
  let total = 0;
  for (let j = 0; j < P; j++) {
    p[j] = x[j] > lo ? Math.pow(x[j] - lo, 1 / am1) : 0;
    total += w[j] * p[j];
  }
  for (let j = 0; j < P; j++) p[j] /= total;
  return p;
}
