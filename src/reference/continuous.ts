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

export type ContinuousMemory = Extract<Memory, { kind: "continuous" }>;

/** The box bin of t: bins are [(n-1)/N, n/N), the last one closed at t = 1. */
export function boxBin(t: number, N: number): number {
  // floor(t N) can round down across a boundary (t = 7.5/11 = 15/22 gives t N = 14.999...);
  // compare with the boundaries themselves, computed as n/N, so that a memory that sits
  // exactly on a boundary (t_l = k/N) lands in the upper bin as the half-open bins say.
  let n = Math.min(N - 1, Math.max(0, Math.floor(t * N)));
  if (n + 1 < N && (n + 1) / N <= t) n++;
  else if (n > 0 && n / N > t) n--;
  return n;
}

/** psi_n(t) for every n. Box bins are [(n-1)/N, n/N), the last one closed at t = 1. */
export function basisAt(spec: ContinuousMemory, t: number, out: Float64Array): void {
  const N = spec.functions;
  if (spec.basis === "box") {
    out.fill(0);
    out[boxBin(t, N)] = 1;
    return;
  }
  // Gaussian bumps of peak 1 (same scale as the box indicators, so `ridge` means the same).
  for (let n = 0; n < N; n++) {
    const d = (t - (n + 0.5) / N) / spec.width;
    out[n] = Math.exp(-0.5 * d * d);
  }
}

/** The ridge fit B = (F F^T + ridge I)^-1 F X of memories X (L x D). */
export function fitCoefficients(spec: ContinuousMemory, X: Mat): Mat {
  const L = X.rows, D = X.cols, N = spec.functions;
  const psi = new Float64Array(N);
  const gram = new Float64Array(N * N); // F F^T + ridge I
  const rhs = new Float64Array(N * D); // F X
  for (let l = 0; l < L; l++) {
    basisAt(spec, (l + 0.5) / L, psi);
    for (let n = 0; n < N; n++) {
      const a = psi[n];
      if (a === 0) continue;
      for (let m = 0; m < N; m++) gram[n * N + m] += a * psi[m];
      for (let d = 0; d < D; d++) rhs[n * D + d] += a * X.data[l * D + d];
    }
  }
  for (let n = 0; n < N; n++) gram[n * N + n] += spec.ridge;
  return { rows: N, cols: D, data: solveSpd(gram, N, rhs, D) };
}

/**
 * Solve G Y = R for symmetric positive (semi)definite G (n x n) by Cholesky. With ridge = 0 and a
 * bin that holds no memory the system is singular; a tiny jitter on such (near-)zero pivots
 * keeps it solvable and gives that empty bin a zero row, which is what the pseudo-inverse gives.
 * Pivots above the jitter are left alone, so a well-posed system (ridge > 0) is solved exactly.
 */
function solveSpd(G: Float64Array, n: number, R: Float64Array, cols: number): Float64Array {
  const Lf = new Float64Array(n * n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, G[i * n + i]);
  const jitter = 1e-12 * Math.max(scale, 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = G[i * n + j];
      for (let k = 0; k < j; k++) s -= Lf[i * n + k] * Lf[j * n + k];
      if (i === j) Lf[i * n + i] = Math.sqrt(s > jitter ? s : Math.max(s, 0) + jitter);
      else Lf[i * n + j] = s / Lf[j * n + j];
    }
  }
  const Y = new Float64Array(R);
  for (let c = 0; c < cols; c++) {
    for (let i = 0; i < n; i++) { // forward: L z = r
      let s = Y[i * cols + c];
      for (let k = 0; k < i; k++) s -= Lf[i * n + k] * Y[k * cols + c];
      Y[i * cols + c] = s / Lf[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) { // backward: L^T y = z
      let s = Y[i * cols + c];
      for (let k = i + 1; k < n; k++) s -= Lf[k * n + i] * Y[k * cols + c];
      Y[i * cols + c] = s / Lf[i * n + i];
    }
  }
  return Y;
}

/** Whether this model takes the exact pooled discrete form (box basis, exact quadrature). */
export function usesPooledForm(spec: ContinuousMemory): boolean {
  return spec.basis === "box" && spec.quadrature === "exact";
}

/** Sample points and trapezoid weights over [0, 1]. */
export function trapezoidRule(points: number): { t: Float64Array; w: Float64Array } {
  const t = new Float64Array(points), w = new Float64Array(points);
  const h = 1 / (points - 1);
  for (let j = 0; j < points; j++) {
    t[j] = j / (points - 1); // correctly rounded, so points on a bin boundary are exactly k/N
    w[j] = j === 0 || j === points - 1 ? h / 2 : h;
  }
  return { t, w };
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
