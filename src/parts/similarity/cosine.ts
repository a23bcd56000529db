// cosine similarity: s(x_i, q) = x_iᵀq / (‖x_i‖ ‖q‖) (LANGUAGE.md §2; MATH.md §7.2).
// A zero memory or a zero query has no direction: its similarity is defined as 0.
import type { SimilarityPart } from "../types.ts";
import { norm2 } from "../post/l2.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const cosineSignature = signature("cosine");
type Cosine = SpecOf<typeof cosineSignature>;

export const cosine: SimilarityPart<Cosine> = {
  kind: "cosine",
  signature: cosineSignature,
  math: "s_i = x_iᵀq / (‖x_i‖ ‖q‖)  (0 if either is 0)",
  reference: (X, q, _spec, out) => {
    const D = X.cols;
    // Unit query first and scaled norms (norm2), so tiny or huge vectors neither underflow nor
    // overflow: s_i = Σ_j x_ij q̂_j / ‖x_i‖.
    const qn = norm2(q);
    if (qn === 0) {
      out.fill(0, 0, X.rows);
      return;
    }
    const qh = q.map((v) => v / qn);
    for (let i = 0; i < X.rows; i++) {
      const x = X.data.subarray(i * D, (i + 1) * D);
      const xn = norm2(x);
      if (xn === 0) {
        out[i] = 0;
        continue;
      }
      let s = 0;
      for (let j = 0; j < D; j++) s += (x[j] / xn) * qh[j];
      out[i] = s;
    }
  },
  wgsl: () => ({
    math: "s_i = x_i . q / (|x_i| |q|), 0 when either is 0",
    memoryAux: "norm",
    queryAux: "norm",
    linear: true,
    accumulate: "dot(x, q)",
    finish: "select(0.0, acc / (mem_aux * query_aux), mem_aux * query_aux > 0.0)",
  }),
};
