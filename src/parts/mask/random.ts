// random(keep, seed) mask (MATH.md §3.10, §5.2; NPH's random mask, clean form): each query sees a
// pseudo-random subset of the memories; the others get score −Infinity (weight exactly 0, the
// normalizer renormalizes over the kept set — not the released code's dropout with 0-fill).
//
//   rule       memory i is kept for query b  iff  hash3(seed, b, i) < keep · 2^32
//              (hash3 from ../rng.ts, compared as an unsigned 32-bit integer; keep = 1 keeps all;
//              each memory is kept with probability ⌈keep·2^32⌉/2^32 ≈ keep, independently)
//   never empty  if that keeps no memory of query b, the memory with the smallest hash3(seed, b, i)
//              is kept (lowest index among equal hashes), so a query never sees an empty set.
//   GPU        the same rule with u32 hashes: kept iff h < T where T = ⌈keep·2^32⌉, and T = 2^32
//              (keep = 1) means "keep all"; the fallback is an argmin over h.
import type { MaskPart } from "../types.ts";
import { hash3 } from "../rng.ts";
import { number, type NumberRule, seed, signature, type SpecOf } from "../signature.ts";

/** keep in (0, 1]. */
const FRACTION: NumberRule = {
  need: "must be greater than 0 and at most 1",
  test: (v) => v > 0 && v <= 1,
  hint: () => "keep is the fraction of the memories that each query sees",
};

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const randomSignature = signature("random", {
  keep: number(FRACTION),
  seed: number(seed, 0),
}, "random(keep = 0.5)");
type RandomMask = SpecOf<typeof randomSignature>;

/** Whether memory i is kept for query b before the never-empty fallback. */
export function randomKept(seed: number, keep: number, query: number, i: number): boolean {
  return hash3(seed, query, i) < keep * 4294967296;
}

export const random: MaskPart<RandomMask> = {
  kind: "random",
  signature: randomSignature,
  math: "keep memory i for query b iff hash3(seed, b, i) < keep·2^32 (never empty: min hash)",
  reference: (scores, spec, query) => {
    const threshold = spec.keep * 4294967296;
    let any = false;
    let best = -1;
    let bestHash = Infinity;
    const removed: number[] = [];
    for (let i = 0; i < scores.length; i++) {
      const h = hash3(spec.seed, query, i);
      if (h < threshold) any = true;
      else removed.push(i);
      if (h < bestHash) {
        bestHash = h;
        best = i;
      }
    }
    for (const i of removed) if (any || i !== best) scores[i] = -Infinity;
  },
  // Kept iff hash3(seed, b, i) < keep * 2^32, i.e. (h an integer) iff h < ceil(keep * 2^32) as
  // u32 (floor would drop h = floor(keep * 2^32), which this reference keeps); keep = 1 keeps every
  // memory, which 2^32 - 1 as a bound would miss by one value, hence the clamp (and the kernel
  // emits "keep all" for keep = 1).
  wgsl: (spec) => ({
    kind: "random",
    math: `keep memory i of query b iff hash3(${spec.seed}, b, i) < ${spec.keep} * 2^32`,
    threshold: Math.min(0xffffffff, Math.ceil(spec.keep * 4294967296)),
    seed: spec.seed,
  }),
};
