// manhattan similarity: s(x_i, q) = −Σ_j |x_ij − q_j| (LANGUAGE.md §2; MATH.md §6). Negative, so
// the nearest memory scores highest (U-Hop's baseline fed the distance in positively: a quirk).
import type { SimilarityPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const manhattanSignature = signature("manhattan");
type Manhattan = SpecOf<typeof manhattanSignature>;

export const manhattan: SimilarityPart<Manhattan> = {
  kind: "manhattan",
  signature: manhattanSignature,
  math: "s_i = −Σ_j |x_ij − q_j|",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    for (let i = 0; i < X.rows; i++) {
      let s = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) s += Math.abs(X.data[o + j] - q[j]);
      out[i] = -s;
    }
  },
  wgsl: () => ({
    math: "s_i = -sum_d |x_id - q_d|",
    memoryAux: "none",
    queryAux: "none",
    linear: false,
    accumulate: "dot(abs(x - q), vec4<f32>(1.0))",
    finish: "-acc",
  }),
};
