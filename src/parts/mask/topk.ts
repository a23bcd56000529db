// topk(k) mask (MATH.md §3.10, §5.2; NPH's top-K, clean form): keep the k largest scores of each
// query and remove the others (score −Infinity, so they get weight exactly 0 and the normalizer
// renormalizes over the kept set — not the released code's 0-fill, under which removed memories
// still get exp(0)).
//
//   kept set   the first k entries in the order (score descending, index ascending), among the
//              finite scores: ties are broken by the lowest index, so the set is exactly
//              determined; if k ≥ the number of finite scores, all are kept.
import type { MaskPart } from "../types.ts";
import { number, signature, type SpecOf, whole } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const topkSignature = signature("topk", { k: number(whole(1)) }, "topk(k = 4)");
type TopK = SpecOf<typeof topkSignature>;

/** Indices of the k kept entries (score descending, lowest index first among ties). */
export function topkIndices(scores: Float64Array, k: number): Int32Array {
  const finite: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] !== -Infinity) finite.push(i);
  if (k >= finite.length) return Int32Array.from(finite);
  finite.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(finite.slice(0, k));
}

export const topk: MaskPart<TopK> = {
  kind: "topk",
  signature: topkSignature,
  math: "keep the k largest scores (ties: lowest index); others → −∞",
  reference: (scores, spec) => {
    const keep = topkIndices(scores, spec.k);
    if (keep.length === scores.length) return;
    const kept = new Uint8Array(scores.length);
    for (const i of keep) kept[i] = 1;
    for (let i = 0; i < scores.length; i++) if (!kept[i]) scores[i] = -Infinity;
  },
  wgsl: (spec) => ({
    kind: "topk",
    math: `keep the ${spec.k} largest scores (ties: lowest index)`,
    k: spec.k,
  }),
};
