// ksubsets(k): SparseMAP over the budget polytope {μ ∈ [0,1]^N : Σμ = k} (MATH.md §1, §2.5, §3.7).
//
//   forward    μ = clip(θ − τ, 0, 1),  τ such that Σμ = k   (no renormalization: Σμ = k, and the
//              Hopfield update Xᵀμ is the SUM of about k patterns)
//   Ω(μ)       ½‖μ‖² (+ the indicator of the polytope)     Ω*(θ) = ⟨θ, μ⟩ − ½‖μ‖²
//   exactness  μ is the top-k indicator iff θ_(k) − θ_(k+1) ≥ 1
//
// Solver: bisection on τ (§3.7) over [min z − k/N, max z − k/N] (Σ ≥ k at the low end, ≤ k at
// the high end), 100 halvings on the max-subtracted scores z, then an exact polish: with the
// entries classified by the current τ into ones (z − τ ≥ 1), zeros (z − τ ≤ 0) and free ones,
// Σμ = k is linear in τ on the free set: τ = (Σ_free z − (k − #ones)) / #free (held as c + rel
// with c the largest free score, so it is resolved to ulps of 1, not of |τ|). Re-classify with
// the new τ and repeat until the classes stop changing, so Σμ = k to rounding.
// If k ≥ N (the number of unmasked entries), every unmasked entry gets 1.
//
// Masked memories (−Infinity) are dropped (not counted in N) and get exactly 0; all masked →
// zeros, conjugate 0.
import type { EntropyPart } from "../types.ts";
import { accurateSum, BISECT_ITERS, innerUnmasked, scatter, unmasked } from "./tsallis.ts";
import { f32 } from "../../wgsl/types.ts";
import { number, signature, type SpecOf, whole } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const ksubsetsSignature = signature("ksubsets", { k: number(whole(1)) }, "ksubsets(k = 4)");
type KSubsets = SpecOf<typeof ksubsetsSignature>;

function clip01(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

/** Budget SparseMAP μ = clip(θ − τ, 0, 1) with Σμ = k: bisection, then the exact polish. */
export function budgetBisect(scores: Float64Array, k: number, iters = BISECT_ITERS): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  if (k >= n) return scatter(scores.length, idx, new Float64Array(n).fill(1));
  let min = 0;
  for (const v of z) if (v < min) min = v;
  const mu = new Float64Array(n);
  const mass = (t: number): number => {
    for (let i = 0; i < n; i++) mu[i] = clip01(z[i] - t);
    return accurateSum(mu);
  };
  let lo = min - k / n;
  let dm = -k / n - lo; // hi = max z − k/N = −k/N
  for (let it = 0; it < iters; it++) {
    dm /= 2;
    const t = lo + dm;
    if (mass(t) - k >= 0) lo = t;
  }
  // Polish τ on the support. On the free set F = {0 < z − τ < 1}, Σμ = #ones + Σ_F (z_i − τ) is
  // linear in τ, so τ = (Σ_F z − (k − #ones))/#F solves it exactly. τ is kept as c + rel with c
  // the largest free score: the free entries are within 1 of c, so z_i − c is exact and rel is
  // resolved to ulps of 1 rather than ulps of |τ| (which can be large: the free set may lie far
  // below max z, and #F·ulp(τ) would then show in Σμ). Repeat while the classes change.
  let c = 0;
  let rel = lo;
  const free = new Float64Array(n);
  const cls = (d: number) => (d >= 1 ? 1 : d <= 0 ? 0 : 2); // one, zero, free
  for (let pass = 0; pass < 8; pass++) {
    let ones = 0;
    let nf = 0;
    let cNext = -Infinity;
    for (const v of z) {
      const k2 = cls(v - c - rel);
      if (k2 === 1) ones++;
      else if (k2 === 2) {
        free[nf++] = v;
        if (v > cNext) cNext = v;
      }
    }
    if (nf === 0) break; // Σμ = #ones = k already (nothing is fractional)
    for (let i = 0; i < nf; i++) free[i] -= cNext;
    const relNext = (accurateSum(free, nf) + ones - k) / nf;
    let same = true;
    for (const v of z) {
      if (cls(v - c - rel) !== cls(v - cNext - relNext)) {
        same = false;
        break;
      }
    }
    c = cNext;
    rel = relNext;
    if (same) break;
  }
  for (let i = 0; i < n; i++) mu[i] = clip01(z[i] - c - rel);
  return scatter(scores.length, idx, mu);
}

/** Ω(μ) = ½‖μ‖². */
export function ksubsetsOmega(mu: Float64Array): number {
  let s = 0;
  for (const v of mu) s += v * v;
  return s / 2;
}

export const ksubsets: EntropyPart<KSubsets> = {
  kind: "ksubsets",
  signature: ksubsetsSignature,
  math: "μ = clip(θ − τ, 0, 1), Σμ = k  (k-subsets SparseMAP; Ω = ½‖μ‖² on the budget polytope)",
  shiftInvariant: true,
  sparse: true,
  reference: (scores, spec) => budgetBisect(scores, spec.k),
  conjugate: (scores, weights) => {
    if (!scores.some((s) => s !== -Infinity)) return 0;
    return innerUnmasked(scores, weights) - ksubsetsOmega(weights);
  },
  // tau in [min x - k/n, -k/n] (MATH.md 3.7); no renormalization: the weights sum to k.
  wgsl: (spec) => ({
    kind: "threshold",
    math: `p = clip(s - tau, 0, 1), sum p = k = ${spec.k}`,
    shift: "s - m",
    bracket: `lo = x_min - ${f32(spec.k)} / f32(n);\n    hi = -${f32(spec.k)} / f32(n);`,
    summand: "clamp(x - tau, 0.0, 1.0)",
    target: f32(spec.k),
    weight: "clamp(x - tau, 0.0, 1.0)",
    normalize: false,
  }),
};
