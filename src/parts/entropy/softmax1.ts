// softmax1 (OutEffHop's softmax₁, MATH.md §3.9, §7.3).
//
//   forward    p_i = exp(θ_i) / (1 + Σ_j exp(θ_j))
//              = softmax over the scores plus one extra "no-op" memory of score 0 and value 0,
//              so Σp < 1 and the map is NOT shift invariant.
//   stable     m' = max(max θ, 0);  p_i = exp(θ_i − m') / (exp(−m') + Σ_j exp(θ_j − m'))
//              (m' ≥ 0 keeps exp(−m') ≤ 1: no overflow even when every score is very negative)
//   Ω*(θ)      log(1 + Σ exp θ_j) = m' + log(exp(−m') + Σ exp(θ_j − m'))
//              (the logsumexp of the augmented scores; its gradient is p)
//
// Masked memories (−Infinity) get exp(−∞) = 0. All masked → zeros and Ω* = log 1 = 0.
import type { EntropyPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const softmax1Signature = signature("softmax1");
type Softmax1 = SpecOf<typeof softmax1Signature>;

function shift(scores: Float64Array): number {
  let m = 0; // m' = max(m, 0)
  for (const s of scores) if (s > m) m = s;
  return m;
}

/** softmax₁(θ)_i = exp(θ_i)/(1 + Σ exp θ_j), computed with m' = max(max θ, 0). */
export function softmax1Map(scores: Float64Array): Float64Array {
  const m = shift(scores);
  const p = new Float64Array(scores.length);
  let s = Math.exp(-m);
  for (let i = 0; i < scores.length; i++) {
    const e = Math.exp(scores[i] - m);
    p[i] = e;
    s += e;
  }
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}

/** log(1 + Σ exp θ_j), computed stably. */
export function log1pSumExp(scores: Float64Array): number {
  const m = shift(scores);
  let s = Math.exp(-m);
  for (const v of scores) s += Math.exp(v - m);
  return m + Math.log(s);
}

export const softmax1: EntropyPart<Softmax1> = {
  kind: "softmax1",
  signature: softmax1Signature,
  math: "p = exp(θ) / (1 + Σ exp θ)  (softmax₁; Ω* = log(1 + Σ exp θ); not shift invariant)",
  shiftInvariant: false,
  sparse: false,
  reference: (scores) => softmax1Map(scores),
  conjugate: (scores) => log1pSumExp(scores),
  // softmax over the scores and one extra zero-score memory whose value is 0 (MATH.md 3.9).
  wgsl: () => ({ kind: "exp", math: "p_i = exp(s_i) / (1 + sum_j exp(s_j))", zeroMemory: true }),
};
