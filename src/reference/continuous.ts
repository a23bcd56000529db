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

/**
 * A gaussian bump exp(-d^2 / 2) is cut to 0 beyond this many widths from its centre, where it is
 * below 2.6e-18 of its peak. The cut keeps the fit banded (O(N b^2) instead of O(N^3)) and the
 * GPU kernel's sums short; it changes nothing float64 or float32 can see.
 */
export const GAUSSIAN_REACH = 9;

/** The basis functions that can be non-zero at t: n in [lo, hi]. */
export function basisRange(spec: ContinuousMemory, t: number): [number, number] {
  const N = spec.functions;
  if (spec.basis === "box") {
    const n = boxBin(t, N);
    return [n, n];
  }
  const r = GAUSSIAN_REACH * spec.width;
  return [
    Math.max(0, Math.ceil((t - r) * N - 0.5)),
    Math.min(N - 1, Math.floor((t + r) * N - 0.5)),
  ];
}

/** psi_n(t) for every n. Box bins are [(n-1)/N, n/N), the last one closed at t = 1. */
export function basisAt(spec: ContinuousMemory, t: number, out: Float64Array): void {
  const N = spec.functions;
  out.fill(0);
  if (spec.basis === "box") {
    out[boxBin(t, N)] = 1;
    return;
  }
  // Gaussian bumps of peak 1 (same scale as the box indicators, so `ridge` means the same).
  for (let n = 0; n < N; n++) {
    const d = (t - (n + 0.5) / N) / spec.width;
    if (Math.abs(d) <= GAUSSIAN_REACH) out[n] = Math.exp(-0.5 * d * d);
  }
}

/**
 * The ridge fit B = (F F^T + ridge I)^-1 F X of memories X (L x D). F F^T is banded (a basis
 * function only meets its neighbours), so the Gram matrix is stored and factored as a band.
 */
export function fitCoefficients(spec: ContinuousMemory, X: Mat): Mat {
  const L = X.rows, D = X.cols, N = spec.functions;
  const psi = new Float64Array(N);
  // Half-bandwidth: two functions that reach a common t are at most 2 reaches apart.
  const band = spec.basis === "box"
    ? 0
    : Math.min(N - 1, Math.ceil(2 * GAUSSIAN_REACH * spec.width * N) + 1);
  const gram = new Float64Array(N * (band + 1)); // gram[n][k] = (F F^T + ridge I)[n][n - k]
  const rhs = new Float64Array(N * D); // F X
  for (let l = 0; l < L; l++) {
    const t = (l + 0.5) / L;
    basisAt(spec, t, psi);
    const [lo, hi] = basisRange(spec, t);
    for (let n = lo; n <= hi; n++) {
      const a = psi[n];
      if (a === 0) continue;
      for (let m = Math.max(lo, n - band); m <= n; m++) {
        gram[n * (band + 1) + (n - m)] += a * psi[m];
      }
      for (let d = 0; d < D; d++) rhs[n * D + d] += a * X.data[l * D + d];
    }
  }
  for (let n = 0; n < N; n++) gram[n * (band + 1)] += spec.ridge;
  return { rows: N, cols: D, data: solveBanded(gram, N, band, rhs, D) };
}

/**
 * Solve G Y = R for symmetric positive (semi)definite G (n x n, half-bandwidth b, stored as
 * G[i][i - k] at i (b + 1) + k) by banded Cholesky. With ridge = 0 and a bin that holds no memory
 * the system is singular; a tiny jitter on such (near-)zero pivots keeps it solvable and gives
 * that empty bin a zero row, which is what the pseudo-inverse gives. Pivots above the jitter are
 * left alone, so a well-posed system (ridge > 0) is solved exactly.
 */
function solveBanded(
  G: Float64Array,
  n: number,
  b: number,
  R: Float64Array,
  cols: number,
): Float64Array {
  const w = b + 1;
  const Lf = new Float64Array(n * w); // Lf[i][i - k]
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, G[i * w]);
  const jitter = 1e-12 * Math.max(scale, 1);
  const at = (i: number, j: number) => Lf[i * w + (i - j)]; // L[i][j], j in [i - b, i]
  for (let i = 0; i < n; i++) {
    for (let j = Math.max(0, i - b); j <= i; j++) {
      let s = G[i * w + (i - j)];
      for (let k = Math.max(0, i - b); k < j; k++) s -= at(i, k) * at(j, k);
      if (i === j) Lf[i * w] = Math.sqrt(s > jitter ? s : Math.max(s, 0) + jitter);
      else Lf[i * w + (i - j)] = s / Lf[j * w];
    }
  }
  const Y = new Float64Array(R);
  for (let i = 0; i < n; i++) { // forward: L Z = R, all columns at once
    for (let k = Math.max(0, i - b); k < i; k++) {
      const l = at(i, k);
      for (let c = 0; c < cols; c++) Y[i * cols + c] -= l * Y[k * cols + c];
    }
    const d = Lf[i * w];
    for (let c = 0; c < cols; c++) Y[i * cols + c] /= d;
  }
  for (let i = n - 1; i >= 0; i--) { // backward: L^T Y = Z
    for (let k = i + 1; k <= Math.min(n - 1, i + b); k++) {
      const l = at(k, i);
      for (let c = 0; c < cols; c++) Y[i * cols + c] -= l * Y[k * cols + c];
    }
    const d = Lf[i * w];
    for (let c = 0; c < cols; c++) Y[i * cols + c] /= d;
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
