// js similarity (MATH.md 7.2): the reciprocal of the Jensen-Shannon divergence of the
// sum-normalized memory and query,
//   s_i = 1 / JS(x^_i, q^),  JS(a, b) = ½ KL(a ‖ m) + ½ KL(b ‖ m),  m = ½ (a + b),
// with the guards of ./uhn.ts. JS is symmetric and at most log 2, so s_i ≥ 1 / log 2, and it stays
// finite where one of the two is 0 and the other not (unlike kl and reverse_kl).
// UHN's code (`Jensen_Shannon_divergence`) returns 1 / (½ s_kl + ½ s_reverse_kl) of the two
// *reciprocal* scores, which ranks the least similar memory highest; what it means to compute,
// ½ (KL + reverse KL), is the symmetrized KL, not JS. hopc implements the divergence its name
// says, with the sign that makes the closest memory score highest. Inputs must be non-negative
// (checked with the data, src/shapes.ts).
import type { SimilarityPart } from "../types.ts";
import { divergenceScores, guardedLog, guardedLogWgsl, RECIPROCAL_DIVERGENCE_WGSL } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const jsSignature = signature("js");
type Js = SpecOf<typeof jsSignature>;

/** ½ a (log a − log m) + ½ b (log b − log m), m = (a + b) / 2: one entry of JS(a, b). */
export function jsTerm(a: number, b: number): number {
  const lm = guardedLog(0.5 * (a + b));
  return 0.5 * (a * (guardedLog(a) - lm) + b * (guardedLog(b) - lm));
}

const A = "x * xa", B = "q * qa", M = "0.5 * (x * xa + q * qa)";

export const js: SimilarityPart<Js> = {
  kind: "js",
  signature: jsSignature,
  math: "s_i = 1 / JS(x̂_i, q̂),  JS = ½KL(x̂‖m) + ½KL(q̂‖m),  m = ½(x̂ + q̂)   (x, q ≥ 0)",
  nonNegative: true,
  reference: (X, q, _spec, out) => divergenceScores(X, q, jsTerm, out),
  wgsl: () => ({
    math: "s_i = 1 / JS(x^_i, q^), m = (x^ + q^) / 2, x^ = x / sum x, q^ = q / sum q",
    memoryAux: "inv_sum",
    queryAux: "inv_sum",
    linear: false,
    accumulate: `0.5 * (dot(${A}, ${guardedLogWgsl(A)} - ${guardedLogWgsl(M)}) + dot(${B}, ${
      guardedLogWgsl(B)
    } - ${guardedLogWgsl(M)}))`,
    finish: RECIPROCAL_DIVERGENCE_WGSL,
  }),
};
