// reverse_kl similarity (MATH.md 7.2; UHN functions.py `reverse_KL_divergence`): the reciprocal
// of the KL divergence of the query from the memory,
//   s_i = 1 / KL(q^ ‖ x^_i) = 1 / Σ_j q^_j (log q^_j − log x^_ij),   x^ = x / Σx, q^ = q / Σq,
// with the guards of ./uhn.ts (see ./kl.ts). A memory that is 0 where the query is not is far
// (large KL, a small score). Inputs must be non-negative (checked with the data, src/shapes.ts).
import type { SimilarityPart } from "../types.ts";
import { divergenceScores, guardedLog, guardedLogWgsl, RECIPROCAL_DIVERGENCE_WGSL } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const reverse_klSignature = signature("reverse_kl");
type ReverseKl = SpecOf<typeof reverse_klSignature>;

export const reverseKl: SimilarityPart<ReverseKl> = {
  kind: "reverse_kl",
  signature: reverse_klSignature,
  math: "s_i = 1 / KL(q̂ ‖ x̂_i),  x̂ = x/Σx, q̂ = q/Σq   (x, q ≥ 0)",
  nonNegative: true,
  reference: (X, q, _spec, out) =>
    divergenceScores(X, q, (a, b) => b * (guardedLog(b) - guardedLog(a)), out),
  wgsl: () => ({
    math: "s_i = 1 / KL(q^ || x^_i), x^ = x / sum x, q^ = q / sum q",
    memoryAux: "inv_sum",
    queryAux: "inv_sum",
    linear: false,
    accumulate: `dot(q * qa, ${guardedLogWgsl("q * qa")} - ${guardedLogWgsl("x * xa")})`,
    finish: RECIPROCAL_DIVERGENCE_WGSL,
  }),
};
