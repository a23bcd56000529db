// normmax(gamma): the map of the norm negentropy Ω(p) = ‖p‖_γ − 1 (MATH.md §1, §3.5, §3.6).
//
//   forward    u_i = [θ_i − max θ − τ]_+^{1/(γ−1)},  τ such that Σ u^γ = 1 (‖u‖_γ = 1);  p = u/Σu
//   Ω*(θ)      ⟨θ, p⟩ − (‖p‖_γ − 1) at p = ŷ(θ)
//   margin     1 for every γ
//
// Solvers, on the max-subtracted scores z (the map is shift invariant):
//   bisection (§3.5)  τ ∈ [−1, −N^{1−γ}] (each u_i/‖u‖_γ ∈ [1/N, 1]); 100 halvings; p = u/Σu at
//                     the final τ_lo (f(τ_lo) ≥ 0). u^γ is computed as [·]_+^{γ/(γ−1)} directly,
//                     and Σu^γ with compensated summation (long rows otherwise cost ~N ulps in τ).
//   γ = 2 (§3.6)      the threshold equation Σ[z − τ]_+² = 1 is the 1.5-entmax one on x = z
//                     (i.e. entmax15 of 2z), so 2-normmax(θ) = L1-normalize(sqrt(entmax15(2θ))).
//                     We take the 1.5-entmax threshold τ of x = z by sorting and form u = [z − τ]_+
//                     directly, which is the same formula without squaring then square-rooting.
//
// Masked memories (−Infinity) are dropped (not counted in N) and get exactly 0; all masked →
// zeros, conjugate 0.
import type { EntropyPart } from "../types.ts";
import {
  accurateSum,
  BISECT_ITERS,
  entmax15Threshold,
  innerUnmasked,
  scatter,
  unmasked,
} from "./tsallis.ts";
import { f32, positivePower } from "../../wgsl/types.ts";
import { number, type NumberRule, signature, type SpecOf } from "../signature.ts";

/** gamma > 1: the gamma-norm of normmax. */
const GAMMA: NumberRule = {
  need: "must be greater than 1",
  test: (v) => v > 1,
  hint: () => "normmax uses the gamma-norm with gamma > 1, e.g. `normmax(gamma = 2)`",
};

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const normmaxSignature = signature(
  "normmax",
  { gamma: number(GAMMA) },
  "normmax(gamma = 2)",
);
type Normmax = SpecOf<typeof normmaxSignature>;

/** γ-normmax by bisection on τ (MATH.md §3.5), max subtracted first. */
export function normmaxBisect(
  scores: Float64Array,
  gamma: number,
  iters = BISECT_ITERS,
): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  const inv = 1 / (gamma - 1);
  const powG = gamma / (gamma - 1); // u^γ = [z − τ]_+^{γ/(γ−1)}
  const scratch = new Float64Array(n);
  const f = (t: number): number => {
    for (let i = 0; i < n; i++) {
      const d = z[i] - t;
      scratch[i] = d > 0 ? Math.pow(d, powG) : 0;
    }
    return accurateSum(scratch) - 1; // compensated: τ is only as exact as this sum
  };
  let lo = -1;
  let dm = -Math.pow(1 / n, gamma - 1) - lo;
  for (let it = 0; it < iters; it++) {
    dm /= 2;
    const t = lo + dm;
    if (f(t) >= 0) lo = t;
  }
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = z[i] - lo;
    u[i] = d > 0 ? Math.pow(d, inv) : 0;
  }
  const s = accurateSum(u);
  for (let i = 0; i < n; i++) u[i] /= s;
  return scatter(scores.length, idx, u);
}

/** 2-normmax in closed form (MATH.md §3.6): L1-normalize(sqrt(entmax15(2θ))), exactly by sorting. */
export function normmax2Closed(scores: Float64Array): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  // entmax15(2θ) works on x = (2θ − max 2θ)/2 = z and returns [x − τ]_+²; its sqrt is [z − τ]_+.
  const tau = entmax15Threshold(z);
  const u = z.map((v) => Math.max(v - tau, 0));
  let s = 0;
  for (const v of u) s += v;
  for (let i = 0; i < n; i++) u[i] /= s;
  return scatter(scores.length, idx, u);
}

/** γ-normmax: the closed form for γ = 2, bisection otherwise. */
export function normmaxMap(scores: Float64Array, gamma: number): Float64Array {
  return gamma === 2 ? normmax2Closed(scores) : normmaxBisect(scores, gamma);
}

/** Norm negentropy Ω(p) = ‖p‖_γ − 1. */
export function normmaxOmega(p: Float64Array, gamma: number): number {
  // Scale by the max entry so p^γ cannot underflow for large γ.
  let m = 0;
  for (const v of p) if (v > m) m = v;
  if (m === 0) return -1;
  let s = 0;
  for (const v of p) if (v > 0) s += Math.pow(v / m, gamma);
  return m * Math.pow(s, 1 / gamma) - 1;
}

export const normmax: EntropyPart<Normmax> = {
  kind: "normmax",
  signature: normmaxSignature,
  math: "p = u/Σu, u = [θ − max θ − τ]_+^{1/(γ−1)}, ‖u‖_γ = 1  (γ-normmax; Ω = ‖p‖_γ − 1)",
  shiftInvariant: true,
  sparse: true,
  reference: (scores, spec) => normmaxMap(scores, spec.gamma),
  conjugate: (scores, weights, spec) => {
    if (!scores.some((s) => s !== -Infinity)) return 0;
    return innerUnmasked(scores, weights) - normmaxOmega(weights, spec.gamma);
  },
  // Summand u^gamma with u = [x - tau]^(1/(gamma-1)), i.e. [x - tau]^(gamma/(gamma-1)); tau in
  // [-1, -(1/n)^(gamma-1)] after the max is subtracted (MATH.md 3.5).
  wgsl: (spec) => ({
    kind: "threshold",
    math: `p = u / sum u, u = [s - tau]_+^(1/(gamma - 1)), |u|_gamma = 1, gamma = ${spec.gamma}`,
    shift: "s - m",
    bracket: `lo = -1.0;\n    hi = -pow(1.0 / f32(n), ${f32(spec.gamma - 1)});`,
    summand: positivePower("x - tau", spec.gamma / (spec.gamma - 1)),
    target: "1.0",
    weight: positivePower("x - tau", 1 / (spec.gamma - 1)),
    normalize: true,
  }),
};
