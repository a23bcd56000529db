// reciprocal_euclidean similarity (MATH.md 7.2; UHN functions.py `euclidean_distance`):
//   s_i = 1 / Σ_j (x_ij − q_j)²   (the squared distance, as UHN's code has it),
// the distance floored at 1e-12 (|x_i|² + |q|²) and at 1e-20 (./uhn.ts). Accumulated as the
// difference itself, not as |x|² − 2 x.q + |q|² (`euclidean`'s GPU form): that form cancels to
// rounding noise near an exact match, where this score is largest.
import type { SimilarityPart } from "../types.ts";
import { flooredDistance, reciprocalWgsl } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const reciprocal_euclideanSignature = signature("reciprocal_euclidean");
type ReciprocalEuclidean = SpecOf<typeof reciprocal_euclideanSignature>;

export const reciprocalEuclidean: SimilarityPart<ReciprocalEuclidean> = {
  kind: "reciprocal_euclidean",
  signature: reciprocal_euclideanSignature,
  math: "s_i = 1 / max(‖x_i − q‖², 1e-12 (‖x_i‖² + ‖q‖²), 1e-20)",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    let qsq = 0;
    for (let j = 0; j < D; j++) qsq += q[j] * q[j];
    for (let i = 0; i < X.rows; i++) {
      let d = 0, xsq = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) {
        const e = X.data[o + j] - q[j];
        d += e * e;
        xsq += X.data[o + j] * X.data[o + j];
      }
      out[i] = 1 / flooredDistance(d, xsq + qsq);
    }
  },
  wgsl: () => ({
    math: "s_i = 1 / max(|x_i - q|^2, 1e-12 (|x_i|^2 + |q|^2), 1e-20)",
    memoryAux: "half_sq_norm",
    queryAux: "half_sq_norm",
    linear: false,
    accumulate: "dot(x - q, x - q)",
    finish: reciprocalWgsl("2.0 * (mem_aux + query_aux)"),
  }),
};
