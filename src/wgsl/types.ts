// What a math part contributes to the fused retrieval kernel (src/wgsl/kernel.ts), as WGSL text.
// Each part module in src/parts/ states its lowering next to its float64 reference; this file
// holds only the shapes of those lowerings and two helpers for writing them.

import { f32 } from "../runtime/blocked/wgsl_common.ts";
import type { AuxKind } from "../runtime/blocked/types.ts";

/** f32 literal that WGSL accepts (one copy, in the self-contained blocked runtime). */
export { f32 };

/** [t]_+^e with the integer exponents as multiplications (MATH.md 3.12: pow(x<0) is undefined). */
export function positivePower(t: string, e: number): string {
  const base = `max(${t}, 0.0)`;
  if (e === 1) return base;
  if (e === 2) return `(${base} * ${base})`;
  return `select(0.0, pow(${base}, ${f32(e)}), ${t} > 0.0)`;
}

/** Similarity: the score of memory i is finish(sum over vec4 chunks of accumulate(x, q)). */
export interface SimilarityWgsl {
  math: string;
  /** Per-memory number precomputed at load (see AuxKind), or none. */
  memoryAux: AuxKind;
  /** Per-query number computed from the state at the start of every step (the same kind). */
  queryAux: AuxKind;
  /**
   * The score is a dot product x . q plus per-row and per-query terms, so it is linear in the row
   * (continuous memory can then score its signal at a point from r = B q).
   */
  linear: boolean;
  /**
   * Contribution of one vec4 chunk: WGSL expression in `x` and `q` (vec4<f32>), and the memory's
   * and the query's aux numbers `xa` and `qa` (f32; 0.0 when the kind is none).
   */
  accumulate: string;
  /** Score before beta from the accumulated `acc`, `mem_aux` (of memory i) and `query_aux`. */
  finish: string;
}

/** Entropy: how a score row becomes weights. */
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

/**
 * Separation function (src/parts/separation/): how a score row (without beta) becomes weights,
 * elementwise after at most one statistic of the row. The weights are clamped to +-F32_MAX so no
 * finite input makes an Inf (MATH.md 2.6).
 */
export interface SeparationWgsl {
  math: string;
  /**
   * The row statistic `m` the weight reads: the largest score (exp with sum-normalization), the
   * largest |score| (poly and linear with sum-normalization: the row is rescaled by it first so
   * the sum cannot overflow), the first index of the largest score (max: one-hot), or none.
   */
  stat: "none" | "max" | "max_abs" | "argmax";
  /** The weight of an unmasked score `s`, given `m` (unused for argmax), finite. */
  weight: string;
  /** Divide by the row's sum (UHN's sum-normalization; all zero when the sum is 0). */
  normalize: boolean;
  /** WGSL functions the weight calls (poly's `sep_power`), or "". */
  functions: string;
}

/** Post-transform: the state after a readout `o` (vec4 chunks). */
export interface PostWgsl {
  math: string;
  /** Whether memories (at load) and queries (before step 1) are transformed too. */
  transformsInputs: boolean;
  /** Reductions over the vector the map needs (each becomes a uniform scalar). */
  needs: ("sq_norm" | "mean_var")[];
  /** Expression of the new chunk from `v` (the chunk), `valid` (1 for real dims), scalars. */
  chunk: string;
}

/** Mask: which memories a query's normalizer sees. */
export type MaskWgsl =
  | { kind: "none" }
  | { kind: "topk"; math: string; k: number }
  | { kind: "random"; math: string; threshold: number; seed: number };
