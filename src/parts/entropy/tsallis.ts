// tsallis(alpha): alpha-entmax, the map of the Tsallis negentropy (MATH.md §1, §3.2–3.4, §3.12).
//
//   forward    p_i = [(α−1)(θ_i − max θ) − τ]_+^{1/(α−1)},   τ such that Σ_i p_i = 1
//   Ω(p)       (Σ_j p_j^α − 1) / (α(α−1))        Ω*(θ) = ⟨θ, p⟩ − Ω(p) at p = ŷ(θ)
//   margin     1/(α−1): θ_1 ≥ 1/(α−1) + max_{j>1} θ_j  ⇒  p = e_1
//
// Solvers, all on the max-subtracted scores (legal: the map is shift invariant, §0):
//   α = 2    exact, by sorting (sparsemax, §3.2): τ = (Σ_{j≤K} zs_j − 1)/K over the support prefix
//   α = 1.5  exact, by sorting (§3.3) on x = z/2, with the support statistics accumulated by
//            Welford's update (no catastrophic msq − mean² cancellation)
//   other α  bisection on τ ∈ [−1, −N^{1−α}] (§3.4), 100 halvings (below float64 resolution),
//            Σp by compensated summation (so τ is not off by ~N ulps on long rows), then p / Σp
// The support fixed points of §3.12 (the GPU's algorithm for α = 2 and α = 1.5) are exported so
// the tests can hold them against the sort and the bisection.
//
// Masked memories arrive as −Infinity: they are dropped before solving (they do not count in N)
// and get weight exactly 0. All entries masked → all weights 0, and the conjugate is taken as 0.
// This module also holds the small helpers for that, shared with the other thresholded maps.
import type { EntropyPart } from "../types.ts";
import { type EntropyWgsl, f32, positivePower } from "../../wgsl/types.ts";
import { number, type NumberRule, signature, type SpecOf } from "../signature.ts";

/** alpha > 1 (alpha = 1 is softmax, 2 sparsemax). */
const ALPHA: NumberRule = {
  need: "must be greater than 1",
  test: (v) => v > 1,
  hint: (v) =>
    v === 1
      ? "alpha = 1 is softmax: use `entropy shannon`"
      : "alpha-entmax needs alpha > 1; alpha = 2 is sparsemax, 1.5 a common choice",
};

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const tsallisSignature = signature(
  "tsallis",
  { alpha: number(ALPHA) },
  "tsallis(alpha = 1.5)",
);
type Tsallis = SpecOf<typeof tsallisSignature>;

/** Bisection halvings for float64 (the bracket is at most 1 wide; 2^-100 is far below an ulp). */
export const BISECT_ITERS = 100;

/** The unmasked (finite) entries of a score row: their positions and their values minus the max. */
export interface Unmasked {
  idx: Int32Array;
  /** θ_idx[i] − max θ, so max z = 0 (when there is at least one entry). */
  z: Float64Array;
  /** max of the finite scores (−Infinity when there are none). */
  max: number;
}

/** Drops the −Infinity (masked) entries and subtracts the max of the rest. */
export function unmasked(scores: Float64Array): Unmasked {
  let n = 0;
  let max = -Infinity;
  for (const s of scores) {
    if (s !== -Infinity) {
      n++;
      if (s > max) max = s;
    }
  }
  const idx = new Int32Array(n);
  const z = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] !== -Infinity) {
      idx[j] = i;
      z[j] = scores[i] - max;
      j++;
    }
  }
  return { idx, z, max };
}

/** Writes the compacted weights back into a full-length row; masked positions stay exactly 0. */
export function scatter(length: number, idx: Int32Array, values: Float64Array): Float64Array {
  const out = new Float64Array(length);
  for (let j = 0; j < idx.length; j++) out[idx[j]] = values[j];
  return out;
}

/** ⟨θ, p⟩ over the unmasked entries (masked ones have p = 0 and θ = −∞: skipped, not NaN). */
export function innerUnmasked(scores: Float64Array, weights: Float64Array): number {
  let s = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] !== -Infinity) s += scores[i] * weights[i];
  }
  return s;
}

/**
 * Σ v with Neumaier's compensated summation: error ~ 2 ulp of the sum instead of ~ n ulp. The
 * bisections need it on long rows: their root τ is only as exact as the evaluation of Σ.
 */
export function accurateSum(v: Float64Array, n = v.length): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  return s + c;
}

/** Values sorted in descending order (a copy). */
function sortedDesc(v: Float64Array): Float64Array {
  const s = Float64Array.from(v).sort();
  return s.reverse();
}

// ---------------------------------------------------------------------------------------------
// α = 2: sparsemax

/** Sparsemax threshold of max-shifted values z (max z = 0), by sorting (MATH.md §3.2). */
export function sparsemaxThreshold(z: Float64Array): number {
  const zs = sortedDesc(z);
  // The support is the prefix of k with 1 + k·zs_k > Σ_{j≤k} zs_j, i.e. Σ_{j≤k}(zs_j − zs_k) < 1;
  // the left side grows with k, so stop at the first failure. k = 1 always holds (0 < 1).
  let cs = 0;
  let csK = 0;
  let K = 0;
  for (let k = 1; k <= zs.length; k++) {
    cs += zs[k - 1];
    if (1 + k * zs[k - 1] > cs) {
      K = k;
      csK = cs;
    } else break;
  }
  return (csK - 1) / K;
}

/** Exact sparsemax by sorting: p = [z − τ]_+ (MATH.md §3.2). */
export function sparsemaxSort(scores: Float64Array): Float64Array {
  const { idx, z } = unmasked(scores);
  if (z.length === 0) return new Float64Array(scores.length);
  const tau = sparsemaxThreshold(z);
  const p = z.map((v) => Math.max(v - tau, 0));
  return scatter(scores.length, idx, p);
}

/** Iterations used by the last fixed-point solve (for tests and GPU planning). */
export interface FixedPointInfo {
  iterations: number;
  converged: boolean;
}

/**
 * Sparsemax by the support fixed point of MATH.md §3.12 (Michelot): τ₀ = (Σz − 1)/N, then
 * τ ← (Σ_{z_i>τ} z_i − 1)/#{z_i > τ} until the support stops changing. In exact arithmetic τ
 * only grows and the support only shrinks (at most N passes), so it stops when the support size
 * repeats, or when τ fails to grow: with an entry exactly at the threshold (weight 0), rounding
 * can otherwise flip it in and out of the support forever.
 */
export function sparsemaxFixedPoint(scores: Float64Array, info?: FixedPointInfo): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  let sum = 0;
  for (const v of z) sum += v;
  let tau = (sum - 1) / n;
  let size = n;
  let it = 0;
  let converged = false;
  while (it < n + 1) {
    it++;
    let s = 0;
    let c = 0;
    for (const v of z) {
      if (v > tau) {
        s += v;
        c++;
      }
    }
    if (c === 0) break; // cannot happen in exact arithmetic (τ < max z = 0); guard rounding
    const next = (s - 1) / c;
    if (c === size || (it > 1 && next <= tau)) {
      if (next > tau) tau = next;
      converged = true;
      break;
    }
    tau = next;
    size = c;
  }
  if (info) {
    info.iterations = it;
    info.converged = converged;
  }
  return scatter(scores.length, idx, z.map((v) => Math.max(v - tau, 0)));
}

// ---------------------------------------------------------------------------------------------
// α = 1.5

/**
 * 1.5-entmax threshold of x = (z − max z)/2 (so max x = 0), by sorting (MATH.md §3.3).
 * For the top-ρ support, Σ_{j≤ρ}(xs_j − τ)² = 1 gives τ_ρ = mean_ρ − sqrt((1 − ss_ρ)/ρ) with
 * ss_ρ = Σ_{j≤ρ}(xs_j − mean_ρ)²; the support is the prefix of ρ with τ_ρ ≤ xs_ρ.
 */
export function entmax15Threshold(x: Float64Array): number {
  const xs = sortedDesc(x);
  let mean = 0;
  let ss = 0;
  let tau = -1; // ρ = 1: mean 0, ss 0 → τ = −1 ≤ 0 always
  for (let r = 1; r <= xs.length; r++) {
    const v = xs[r - 1];
    // Welford's running mean and sum of squared deviations: stable for long rows.
    const d = v - mean;
    mean += d / r;
    ss += d * (v - mean);
    const t = mean - Math.sqrt(Math.max((1 - ss) / r, 0));
    if (t <= v) tau = t;
    else break;
  }
  return tau;
}

/** Exact 1.5-entmax by sorting: p = [x − τ]_+², x = (θ − max θ)/2 (MATH.md §3.3). */
export function entmax15Sort(scores: Float64Array): Float64Array {
  const { idx, z } = unmasked(scores);
  if (z.length === 0) return new Float64Array(scores.length);
  const x = z.map((v) => v / 2);
  const tau = entmax15Threshold(x);
  const p = x.map((v) => {
    const d = Math.max(v - tau, 0);
    return d * d;
  });
  // Σp = 1 in exact arithmetic; rounding can leave a dominant entry at 1 + 4e-16. Dividing by the
  // sum keeps every weight in [0, 1] and the total at 1 to the last bit.
  const total = accurateSum(p);
  for (let i = 0; i < p.length; i++) p[i] /= total;
  return scatter(scores.length, idx, p);
}

/**
 * 1.5-entmax by the support fixed point of MATH.md §3.12: start from S = all, iterate
 * τ = mean_S(x) − sqrt(max(1/|S| − var_S(x), 0)), S ← {x_i > τ}, until S stops changing, or τ
 * moves by less than a few ulps (then only entries within rounding of τ, whose weight (x − τ)²
 * is ~1e-30, can still flip; rounding at exact ties could otherwise make them flip forever).
 * (No convergence proof; it converges in a handful of passes in practice. `maxIter` guards it.)
 */
export function entmax15FixedPoint(
  scores: Float64Array,
  info?: FixedPointInfo,
  maxIter = 100,
): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  const x = z.map((v) => v / 2);
  const inS = new Uint8Array(n).fill(1);
  let size = n;
  let tau = -1;
  let it = 0;
  let converged = false;
  while (it < maxIter) {
    it++;
    // Two passes over S: mean, then squared deviations (accurate variance).
    let s = 0;
    for (let i = 0; i < n; i++) if (inS[i]) s += x[i];
    const mean = s / size;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      if (inS[i]) {
        const d = x[i] - mean;
        ss += d * d;
      }
    }
    const prev = tau;
    tau = mean - Math.sqrt(Math.max((1 - ss) / size, 0));
    if (it > 1 && Math.abs(tau - prev) <= 4 * Number.EPSILON * Math.max(1, Math.abs(tau))) {
      converged = true;
      break;
    }
    let changed = false;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const now = x[i] > tau ? 1 : 0;
      if (now !== inS[i]) changed = true;
      inS[i] = now;
      c += now;
    }
    size = c;
    if (!changed) {
      converged = true;
      break;
    }
    if (size === 0) break; // rounding guard; τ < max x = 0 in exact arithmetic
  }
  if (info) {
    info.iterations = it;
    info.converged = converged;
  }
  return scatter(
    scores.length,
    idx,
    x.map((v) => {
      const d = Math.max(v - tau, 0);
      return d * d;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// any α > 1: bisection

/**
 * α-entmax by bisection (MATH.md §3.4), with the max subtracted before scaling by (α−1):
 * X = (α−1)(θ − max θ), τ ∈ [−1, −N^{1−α}], f(τ) = Σ[X − τ]_+^{1/(α−1)} − 1 is non-increasing.
 * Keeps τ_lo with f(τ_lo) ≥ 0; the weights are taken at the final τ_lo and renormalized.
 */
export function entmaxBisect(
  scores: Float64Array,
  alpha: number,
  iters = BISECT_ITERS,
): Float64Array {
  const { idx, z } = unmasked(scores);
  const n = z.length;
  if (n === 0) return new Float64Array(scores.length);
  const am1 = alpha - 1;
  const inv = 1 / am1;
  const X = z.map((v) => am1 * v);
  const p = new Float64Array(n);
  const mass = (t: number): number => {
    for (let i = 0; i < n; i++) {
      const d = X[i] - t;
      p[i] = d > 0 ? Math.pow(d, inv) : 0;
    }
    return accurateSum(p, n);
  };
  let lo = -1;
  let dm = -Math.pow(1 / n, am1) - lo;
  for (let it = 0; it < iters; it++) {
    dm /= 2;
    const t = lo + dm;
    if (mass(t) - 1 >= 0) lo = t;
  }
  const s = mass(lo); // ≥ 1, and > 0 since the max entry gives (−τ_lo)^{1/(α−1)} > 0
  for (let i = 0; i < n; i++) p[i] /= s;
  return scatter(scores.length, idx, p);
}

/** α-entmax with the exact sort for α = 2 and 1.5, bisection otherwise. */
export function entmax(scores: Float64Array, alpha: number): Float64Array {
  if (alpha === 2) return sparsemaxSort(scores);
  if (alpha === 1.5) return entmax15Sort(scores);
  return entmaxBisect(scores, alpha);
}

/** Tsallis negentropy Ω(p) = (Σ p_j^α − 1)/(α(α−1)) on the simplex. */
export function tsallisOmega(p: Float64Array, alpha: number): number {
  let s = 0;
  for (const v of p) if (v > 0) s += Math.pow(v, alpha);
  return (s - 1) / (alpha * (alpha - 1));
}

/** Ω*(θ) = ⟨θ, p⟩ − Ω(p) at p = ŷ(θ); 0 when every entry is masked. */
export function tsallisConjugate(scores: Float64Array, weights: Float64Array, alpha: number) {
  if (!scores.some((s) => s !== -Infinity)) return 0;
  return innerUnmasked(scores, weights) - tsallisOmega(weights, alpha);
}

export const tsallis: EntropyPart<Tsallis> = {
  kind: "tsallis",
  signature: tsallisSignature,
  math: "p = [(α−1)(θ − max θ) − τ]_+^{1/(α−1)}, Σp = 1  (α-entmax; Ω = (Σp^α − 1)/(α(α−1)))",
  shiftInvariant: true,
  sparse: true,
  reference: (scores, spec) => entmax(scores, spec.alpha),
  conjugate: (scores, weights, spec) => tsallisConjugate(scores, weights, spec.alpha),
  wgsl: (spec) => entmaxWgsl(spec.alpha),
};

/**
 * The kernel's alpha-entmax: bisection on tau with the max subtracted first (MATH.md 3.4). After
 * the shift the top entry has x = 0, so tau lies in [-1, -(1/n)^(alpha-1)].
 */
export function entmaxWgsl(alpha: number): EntropyWgsl {
  const inv = 1 / (alpha - 1);
  return {
    kind: "threshold",
    math: `p = [(alpha - 1) s - tau]_+^(1/(alpha - 1)), sum p = 1, alpha = ${alpha}`,
    shift: `${f32(alpha - 1)} * (s - m)`,
    bracket: `lo = -1.0;\n    hi = -pow(1.0 / f32(n), ${f32(alpha - 1)});`,
    summand: positivePower("x - tau", inv),
    target: "1.0",
    weight: positivePower("x - tau", inv),
    normalize: true,
  };
}
