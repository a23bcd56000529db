// separation `max`: one-hot on the argmax of the scores (UHN, MATH.md 7.2). Ties go to the lowest
// index (the GPU lowering must scan in index order with a strict `>`).
//
//   normalize  sum and raw agree: the one-hot row already sums to 1 (all zero when every entry
//              is masked)
//   energy     −max_i s_i: the simplex's support function at s, the β → ∞ limit of the softmax
//              energy's score term −β⁻¹ logsumexp(β s) (0 when every entry is masked)
import type { SeparationPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";
import { NORMALIZE } from "./common.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const maxSignature = signature("max", { normalize: NORMALIZE });
export type MaxSeparation = SpecOf<typeof maxSignature>;

function argmax(s: Float64Array): number {
  let best = -1;
  for (let i = 0; i < s.length; i++) {
    if (Number.isFinite(s[i]) && (best < 0 || s[i] > s[best])) best = i;
  }
  return best;
}

export const maxSeparation: SeparationPart<MaxSeparation> = {
  kind: "max",
  signature: maxSignature,
  math: "p = one-hot(argmax s)  (ties: lowest index)",
  reference: (s) => {
    const p = new Float64Array(s.length);
    const i = argmax(s);
    if (i >= 0) p[i] = 1;
    return p;
  },
  energy: (s) => {
    const i = argmax(s);
    return i >= 0 ? -s[i] : 0;
  },
  // The pass finds the row max, then the lowest index holding it, and writes the one-hot row.
  wgsl: () => ({
    math: "p = one-hot(argmax s), ties to the lowest index",
    stat: "argmax",
    weight: "1.0",
    normalize: false,
    functions: "",
  }),
};
