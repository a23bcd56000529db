// Constrained sparsemax: the Euclidean projection onto the simplex with upper bounds (MATH.md 3.8;
// used by free recall's `csparsemax` mode, deep-spin/HFYN scripts/utils.py
// `constrained_sparsemax`, there by the Pardalos-Kovoor sort-based solver).
//
//   p = argmin ½‖p − z‖²  s.t.  0 ≤ p ≤ u,  Σp = 1
//     = clip(z − τ, 0, u)  with τ the root of f(τ) = Σ clip(z_i − τ, 0, u_i) − 1
//
// f is continuous and non-increasing in τ: f(min_i(z_i − u_i)) = Σu − 1 ≥ 0 and f(max z) = −1, so
// the problem is feasible iff Σu ≥ 1, and τ is found by bisection on that bracket (float64, until
// the bracket stops shrinking). The bisection fixes the three sets (p_i = 0, 0 < p_i < u_i,
// p_i = u_i); τ is then recomputed exactly from the free set, τ = (Σ_free z_i + Σ_capped u_i − 1)
// / |free|, and kept if it reproduces the same sets (else the bisection's τ stands).
//
// Infeasible bounds (Σu < 1 − FEASIBILITY_TOL) have no answer: `constrainedSparsemax` returns
// null and free recall stops there. Bounds within the tolerance below 1 give p = u / Σu.

/** How far below 1 the bounds' sum may fall (round-off of the recall's u ← u − p updates). */
export const FEASIBILITY_TOL = 1e-9;

export interface ConstrainedSparsemax {
  p: Float64Array;
  tau: number;
}

/** The projection, or null when Σu < 1 (no point of the simplex satisfies p ≤ u). */
export function constrainedSparsemax(
  z: Float64Array,
  u: Float64Array,
): ConstrainedSparsemax | null {
  const n = z.length;
  if (u.length !== n) throw new RangeError("constrainedSparsemax: z and u differ in length");
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!(u[i] >= 0) || !Number.isFinite(u[i])) {
      throw new RangeError(`constrainedSparsemax: bound u[${i}] = ${u[i]} is not finite and >= 0`);
    }
    if (!Number.isFinite(z[i])) {
      throw new RangeError(`constrainedSparsemax: score z[${i}] = ${z[i]} is not finite`);
    }
    total += u[i];
  }
  if (total < 1 - FEASIBILITY_TOL) return null;
  if (total <= 1) {
    // The only feasible point (up to round-off): every entry at its bound.
    return { p: u.map((v) => v / total), tau: -Infinity };
  }
  const f = (tau: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.min(Math.max(z[i] - tau, 0), u[i]);
    return s - 1;
  };
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, z[i] - u[i]);
    hi = Math.max(hi, z[i]);
  }
  // f(lo) >= 0 > f(hi); keep that invariant.
  for (let it = 0; it < 200; it++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (f(mid) >= 0) lo = mid;
    else hi = mid;
  }
  let tau = lo;
  const exact = exactTau(z, u, tau);
  if (exact !== null) tau = exact;
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = Math.min(Math.max(z[i] - tau, 0), u[i]);
  return { p, tau };
}

/** τ from the sets that `tau` induces, if it induces the same sets again; else null. */
function exactTau(z: Float64Array, u: Float64Array, tau: number): number | null {
  const n = z.length;
  const region = new Int8Array(n); // 0: p = 0, 1: free, 2: p = u
  let free = 0, sum = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i] - tau;
    if (v <= 0) region[i] = 0;
    else if (v >= u[i]) {
      region[i] = 2;
      sum += u[i];
    } else {
      region[i] = 1;
      free++;
      sum += z[i];
    }
  }
  if (free === 0) return null;
  const t = (sum - 1) / free;
  // The same sets again (with a little slack for entries at a boundary).
  for (let i = 0; i < n; i++) {
    const v = z[i] - t;
    const r = v <= 0 ? 0 : v >= u[i] ? 2 : 1;
    if (r !== region[i] && Math.abs(v) > 1e-12 && Math.abs(v - u[i]) > 1e-12) return null;
  }
  return t;
}
