// dot similarity: s(x_i, q) = x_iᵀq (MATH.md §0; the Hopfield/attention score).
import type { SimilarityPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const dotSignature = signature("dot");
type Dot = SpecOf<typeof dotSignature>;

export const dot: SimilarityPart<Dot> = {
  kind: "dot",
  signature: dotSignature,
  math: "s_i = x_iᵀq",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    for (let i = 0; i < X.rows; i++) {
      let s = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) s += X.data[o + j] * q[j];
      out[i] = s;
    }
  },
  wgsl: () => ({
    math: "s_i = x_i . q",
    memoryAux: "none",
    queryAux: "none",
    linear: true,
    accumulate: "dot(x, q)",
    finish: "acc",
  }),
};
