// WGSL lowerings of the math parts: what each similarity, entropy, mask and post-transform
// contributes to the fused retrieval kernel. Each lowering is a few lines of WGSL text with the
// math it implements beside it; src/wgsl/kernel.ts composes them. The float64 reference of the
// same part lives in src/parts/ and the GPU tests compare the two.
import type { Entropy, Mask, Post, Similarity } from "../ir.ts";

/** f32 literal that WGSL accepts (always has a decimal point or exponent). */
export function f32(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`non-finite constant ${v}`);
  const s = Math.fround(v).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

// ---------------------------------------------------------------------------------------------
// Similarity: the score of memory i is finish(sum over vec4 chunks of accumulate(x, q)).

export interface SimilarityWgsl {
  math: string;
  /** Per-memory number precomputed at load (norm, half squared norm), or none. */
  memoryAux: "none" | "norm" | "half_sq_norm";
  /** Per-query number computed from the state at the start of every step. */
  queryAux: "none" | "norm" | "half_sq_norm";
  /** Contribution of one vec4 chunk: WGSL expression in `x` and `q` (vec4<f32>). */
  accumulate: string;
  /** Score before beta from the accumulated `acc`, `mem_aux` (of memory i) and `query_aux`. */
  finish: string;
}

export function similarityWgsl(s: Similarity): SimilarityWgsl {
  switch (s.kind) {
    case "dot":
      return {
        math: "s_i = x_i . q",
        memoryAux: "none",
        queryAux: "none",
        accumulate: "dot(x, q)",
        finish: "acc",
      };
    case "cosine":
      return {
        math: "s_i = x_i . q / (|x_i| |q|), 0 when either is 0",
        memoryAux: "norm",
        queryAux: "norm",
        accumulate: "dot(x, q)",
        finish: "select(0.0, acc / (mem_aux * query_aux), mem_aux * query_aux > 0.0)",
      };
    case "euclidean":
      // -|x - q|^2 / 2 = x.q - |x|^2/2 - |q|^2/2: the same dot product plus precomputed biases.
      return {
        math: "s_i = -|x_i - q|^2 / 2 = x_i . q - |x_i|^2/2 - |q|^2/2",
        memoryAux: "half_sq_norm",
        queryAux: "half_sq_norm",
        accumulate: "dot(x, q)",
        finish: "acc - mem_aux - query_aux",
      };
    case "manhattan":
      return {
        math: "s_i = -sum_d |x_id - q_d|",
        memoryAux: "none",
        queryAux: "none",
        accumulate: "dot(abs(x - q), vec4<f32>(1.0))",
        finish: "-acc",
      };
    case "features":
      throw new Error("features similarity uses the kernel retrieval path, not scores");
  }
}

// ---------------------------------------------------------------------------------------------
// Entropy: how a score row becomes weights.

export type EntropyWgsl =
  | {
    kind: "exp";
    math: string;
    /** softmax1 adds a zero-score memory whose value is 0 (MATH.md 3.9). */
    zeroMemory: boolean;
  }
  | {
    kind: "threshold";
    math: string;
    /**
     * Maps a raw score `s` to `x` given the row max `m` (max subtracted first, MATH.md 3.4).
     */
    shift: string;
    /** Statements that set `lo` and `hi` from `n` (unmasked count) and `x_min` (min of x). */
    bracket: string;
    /** Contribution of one entry to the threshold equation, in `x` and `tau`. */
    summand: string;
    /** The value the summands must add up to. */
    target: string;
    /** Unnormalized weight of one entry, in `x` and `tau`. */
    weight: string;
    /** Divide the weights by their sum at the end (false for k-subsets, whose sum is k). */
    normalize: boolean;
  };

/** [t]_+^e with the integer exponents as multiplications (MATH.md 3.12: pow(x<0) is undefined). */
function positivePower(t: string, e: number): string {
  const base = `max(${t}, 0.0)`;
  if (e === 1) return base;
  if (e === 2) return `(${base} * ${base})`;
  return `select(0.0, pow(${base}, ${f32(e)}), ${t} > 0.0)`;
}

export function entropyWgsl(e: Entropy): EntropyWgsl {
  switch (e.kind) {
    case "shannon":
      return { kind: "exp", math: "p = softmax(s)", zeroMemory: false };
    case "softmax1":
      return { kind: "exp", math: "p_i = exp(s_i) / (1 + sum_j exp(s_j))", zeroMemory: true };
    case "sparsemax":
    case "tsallis": {
      const alpha = e.kind === "sparsemax" ? 2 : e.alpha;
      const inv = 1 / (alpha - 1);
      return {
        kind: "threshold",
        math: `p = [(alpha - 1) s - tau]_+^(1/(alpha - 1)), sum p = 1, alpha = ${alpha}`,
        shift: `${f32(alpha - 1)} * (s - m)`,
        // After the shift the top entry has x = 0, so tau is in [-1, -(1/n)^(alpha-1)].
        bracket: `lo = -1.0;\n    hi = -pow(1.0 / f32(n), ${f32(alpha - 1)});`,
        summand: positivePower("x - tau", inv),
        target: "1.0",
        weight: positivePower("x - tau", inv),
        normalize: true,
      };
    }
    case "normmax": {
      const g = e.gamma;
      const inv = 1 / (g - 1);
      // Summand u^gamma with u = [x - tau]^(1/(gamma-1)), i.e. [x - tau]^(gamma/(gamma-1)).
      return {
        kind: "threshold",
        math: `p = u / sum u, u = [s - tau]_+^(1/(gamma - 1)), |u|_gamma = 1, gamma = ${g}`,
        shift: "s - m",
        bracket: `lo = -1.0;\n    hi = -pow(1.0 / f32(n), ${f32(g - 1)});`,
        summand: positivePower("x - tau", g * inv),
        target: "1.0",
        weight: positivePower("x - tau", inv),
        normalize: true,
      };
    }
    case "ksubsets":
      return {
        kind: "threshold",
        math: `p = clip(s - tau, 0, 1), sum p = k = ${e.k}`,
        shift: "s - m",
        bracket: `lo = x_min - ${f32(e.k)} / f32(n);\n    hi = -${f32(e.k)} / f32(n);`,
        summand: "clamp(x - tau, 0.0, 1.0)",
        target: f32(e.k),
        weight: "clamp(x - tau, 0.0, 1.0)",
        normalize: false,
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Post-transform: the state after a readout `o`, written into `q` (vec4 chunks).

export interface PostWgsl {
  math: string;
  /** Whether memories (at load) and queries (before step 1) are transformed too. */
  transformsInputs: boolean;
  /** Reductions over the vector the map needs (each becomes a uniform scalar). */
  needs: ("sq_norm" | "mean_var")[];
  /** Expression of the new chunk from `v` (the chunk), `valid` (1 for real dims), scalars. */
  chunk: string;
}

export function postWgsl(p: Post, beta: number): PostWgsl {
  switch (p.kind) {
    case "identity":
      return { math: "q = z", transformsInputs: false, needs: [], chunk: "v" };
    case "l2":
      return {
        math: `q = r z / |z|, r = ${p.radius} (0 when z = 0)`,
        transformsInputs: true,
        needs: ["sq_norm"],
        chunk: `select(vec4<f32>(0.0), v * (${f32(p.radius)} / sqrt(sq_norm)), sq_norm > 0.0)`,
      };
    case "layernorm":
      return {
        math: `q = (z - mean) / sqrt(var + eps), eps = ${p.eps}, biased variance, no affine`,
        transformsInputs: true,
        needs: ["mean_var"],
        chunk: `valid * (v - vec4<f32>(mean)) / sqrt(variance + ${f32(p.eps)})`,
      };
    case "tanh": {
      // WGSL's tanh is only as accurate as (e^x - e^-x) / (e^x + e^-x) (an absolute error, ~1e-2
      // relative at 1e-6 on Mesa), so small arguments take the odd series to x^7 (relative error
      // below 4e-8 for |y| < 0.125) and the builtin takes the rest.
      const y = `(${f32(beta)} * v)`;
      return {
        math: `q = tanh(beta z), beta = ${beta}`,
        transformsInputs: false,
        needs: [],
        chunk: `select(tanh(${y}), ${y} * (1.0 + ${y} * ${y} * (-0.33333334 + ${y} * ${y} * ` +
          `(0.13333334 - 0.053968254 * ${y} * ${y}))), abs(${y}) < vec4<f32>(0.125))`,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mask: which memories a query's normalizer sees.

export type MaskWgsl =
  | { kind: "none" }
  | { kind: "topk"; math: string; k: number }
  | { kind: "random"; math: string; threshold: number; seed: number };

export function maskWgsl(m: Mask): MaskWgsl {
  switch (m.kind) {
    case "none":
      return { kind: "none" };
    case "topk":
      return { kind: "topk", math: `keep the ${m.k} largest scores (ties: lowest index)`, k: m.k };
    case "random": {
      // Memory i is kept for query b iff hash3(seed, b, i) < keep * 2^32, i.e. (h an integer) iff
      // h < ceil(keep * 2^32) as u32 (floor would drop h = floor(keep * 2^32) whenever keep * 2^32
      // is not an integer, which the reference keeps); keep = 1 keeps every memory, which
      // 2^32 - 1 as a bound would miss by one value, hence the clamp below.
      const threshold = Math.min(0xffffffff, Math.ceil(m.keep * 4294967296));
      return {
        kind: "random",
        math: `keep memory i of query b iff hash3(${m.seed}, b, i) < ${m.keep} * 2^32`,
        threshold,
        seed: m.seed,
      };
    }
  }
}
