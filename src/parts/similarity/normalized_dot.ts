// normalized_dot similarity (MATH.md 7.2; UHN functions.py `normalized_dot_product`):
//   s_i = (x_i / Σ_j x_ij) · (q / Σ_j q_j),
// the dot product of the rows and the query each scaled to sum 1. UHN then divides the scores by
// their sum over the memories; that division (like UHN's `use_norm`) rescales all scores of a
// query alike, so it is no part of the similarity here: with softmax it is a per-query beta, with
// max or top-k it changes nothing. Inputs must be non-negative (checked with the data,
// src/shapes.ts); a row or query whose sum is not positive scores 0.
import type { SimilarityPart } from "../types.ts";
import { inverseSum } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const normalized_dotSignature = signature("normalized_dot");
type NormalizedDot = SpecOf<typeof normalized_dotSignature>;

export const normalizedDot: SimilarityPart<NormalizedDot> = {
  kind: "normalized_dot",
  signature: normalized_dotSignature,
  math: "s_i = (x_i / Σ_j x_ij) · (q / Σ_j q_j)   (x, q ≥ 0)",
  nonNegative: true,
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    const qi = inverseSum(q, 0, D);
    for (let i = 0; i < X.rows; i++) {
      const o = i * D;
      let s = 0;
      for (let j = 0; j < D; j++) s += X.data[o + j] * q[j];
      out[i] = s * inverseSum(X.data, o, D) * qi;
    }
  },
  // Linear: the dot product times the two precomputed 1 / sums.
  wgsl: () => ({
    math: "s_i = (x_i . q) / (sum x_i * sum q)",
    memoryAux: "inv_sum",
    queryAux: "inv_sum",
    linear: true,
    accumulate: "dot(x, q)",
    finish: "acc * mem_aux * query_aux",
  }),
};
