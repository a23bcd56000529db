// kl similarity (MATH.md 7.2; UHN functions.py `KL_divergence`): the reciprocal of the KL
// divergence of the memory from the query, in UHN's direction,
//   s_i = 1 / KL(x^_i ‖ q^) = 1 / Σ_j x^_ij (log x^_ij − log q^_j),   x^ = x / Σx, q^ = q / Σq,
// so the closest memory scores highest (`reverse_kl` is KL(q^ ‖ x^_i)). UHN's code adds 1e-4 inside
// each log; hopc instead counts an entry as at least 1e-30 there and floors KL at 1e-12 (./uhn.ts):
// x log x at x = 0 is exactly 0 and no log of 0 is taken. Inputs must be non-negative (checked
// with the data, src/shapes.ts).
import type { SimilarityPart } from "../types.ts";
import { divergenceScores, guardedLog, guardedLogWgsl, RECIPROCAL_DIVERGENCE_WGSL } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const klSignature = signature("kl");
type Kl = SpecOf<typeof klSignature>;

export const kl: SimilarityPart<Kl> = {
  kind: "kl",
  signature: klSignature,
  math: "s_i = 1 / KL(x̂_i ‖ q̂),  x̂ = x/Σx, q̂ = q/Σq   (x, q ≥ 0)",
  nonNegative: true,
  reference: (X, q, _spec, out) =>
    divergenceScores(X, q, (a, b) => a * (guardedLog(a) - guardedLog(b)), out),
  wgsl: () => ({
    math: "s_i = 1 / KL(x^_i || q^), x^ = x / sum x, q^ = q / sum q",
    memoryAux: "inv_sum",
    queryAux: "inv_sum",
    linear: false,
    accumulate: `dot(x * xa, ${guardedLogWgsl("x * xa")} - ${guardedLogWgsl("q * qa")})`,
    finish: RECIPROCAL_DIVERGENCE_WGSL,
  }),
};
