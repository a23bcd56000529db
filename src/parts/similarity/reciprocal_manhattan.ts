// reciprocal_manhattan similarity (MATH.md 7.2; UHN functions.py `manhatten_distance`):
//   s_i = 1 / Σ_j |x_ij − q_j|,
// the distance floored at 1e-12 (Σ|x_i| + Σ|q|) and at 1e-20 (./uhn.ts), so an exact match scores a
// large finite number. Positive and not shift-invariant: UHN sum-normalizes these scores before its
// separation (softmax(1000 s / Σ s)), which is a per-query rescaling of beta that hopc leaves to
// the model's beta.
import type { SimilarityPart } from "../types.ts";
import { flooredDistance, reciprocalWgsl } from "./uhn.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const reciprocal_manhattanSignature = signature("reciprocal_manhattan");
type ReciprocalManhattan = SpecOf<typeof reciprocal_manhattanSignature>;

export const reciprocalManhattan: SimilarityPart<ReciprocalManhattan> = {
  kind: "reciprocal_manhattan",
  signature: reciprocal_manhattanSignature,
  math: "s_i = 1 / max(Σ_j |x_ij − q_j|, 1e-12 (Σ|x_i| + Σ|q|), 1e-20)",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    let ql1 = 0;
    for (let j = 0; j < D; j++) ql1 += Math.abs(q[j]);
    for (let i = 0; i < X.rows; i++) {
      let d = 0, xl1 = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) {
        d += Math.abs(X.data[o + j] - q[j]);
        xl1 += Math.abs(X.data[o + j]);
      }
      out[i] = 1 / flooredDistance(d, xl1 + ql1);
    }
  },
  wgsl: () => ({
    math: "s_i = 1 / max(sum_d |x_id - q_d|, 1e-12 (|x_i|_1 + |q|_1), 1e-20)",
    memoryAux: "l1",
    queryAux: "l1",
    linear: false,
    accumulate: "dot(abs(x - q), vec4<f32>(1.0))",
    finish: reciprocalWgsl("mem_aux + query_aux"),
  }),
};
