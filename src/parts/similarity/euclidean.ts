// euclidean similarity: s(x_i, q) = −½‖x_i − q‖² (LANGUAGE.md §2; MATH.md §0).
// Equals x_iᵀq − ½‖x_i‖² − ½‖q‖²: a dot product plus a per-memory bias and a per-query constant,
// which the shift-invariant normalizers ignore (the GPU can use that; here we use the direct
// difference form, which is the more accurate one in float64).
import type { SimilarityPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const euclideanSignature = signature("euclidean");
type Euclidean = SpecOf<typeof euclideanSignature>;

export const euclidean: SimilarityPart<Euclidean> = {
  kind: "euclidean",
  signature: euclideanSignature,
  math: "s_i = −½‖x_i − q‖²",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    for (let i = 0; i < X.rows; i++) {
      let s = 0;
      const o = i * D;
      for (let j = 0; j < D; j++) {
        const d = X.data[o + j] - q[j];
        s += d * d;
      }
      out[i] = -s / 2;
    }
  },
  // -|x - q|^2 / 2 = x.q - |x|^2/2 - |q|^2/2: the dot product plus precomputed biases.
  wgsl: () => ({
    math: "s_i = -|x_i - q|^2 / 2 = x_i . q - |x_i|^2/2 - |q|^2/2",
    memoryAux: "half_sq_norm",
    queryAux: "half_sq_norm",
    linear: true,
    accumulate: "dot(x, q)",
    finish: "acc - mem_aux - query_aux",
  }),
};
