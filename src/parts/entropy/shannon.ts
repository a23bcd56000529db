// shannon: softmax, the map of the Shannon negentropy (MATH.md §1, §3.1).
//
//   forward    p_i = exp(θ_i − m) / Σ_j exp(θ_j − m),  m = max θ  (the shift cancels exactly)
//   Ω(p)       Σ p log p                Ω*(θ) = logsumexp(θ) = m + log Σ_j exp(θ_j − m)
//   margin     none: never exactly sparse
//
// Masked memories (−Infinity) give exp(−∞) = 0 exactly and do not enter the sums. All entries
// masked → all weights 0 and a conjugate of 0 (the empty-sum convention of every map here).
import type { EntropyPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const shannonSignature = signature("shannon");
type Shannon = SpecOf<typeof shannonSignature>;

function finiteMax(scores: Float64Array): number {
  let m = -Infinity;
  for (const s of scores) if (s > m) m = s;
  return m;
}

/** softmax with the max subtracted; masked entries get exactly 0. */
export function softmax(scores: Float64Array): Float64Array {
  const m = finiteMax(scores);
  const p = new Float64Array(scores.length);
  if (m === -Infinity) return p;
  let s = 0;
  for (let i = 0; i < scores.length; i++) {
    const e = Math.exp(scores[i] - m);
    p[i] = e;
    s += e;
  }
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}

/** logsumexp over the unmasked entries (0 when all are masked, by convention). */
export function logsumexp(scores: Float64Array): number {
  const m = finiteMax(scores);
  if (m === -Infinity) return 0;
  let s = 0;
  for (const v of scores) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** Shannon negentropy Σ p log p (0 log 0 = 0). */
export function shannonOmega(p: Float64Array): number {
  let s = 0;
  for (const v of p) if (v > 0) s += v * Math.log(v);
  return s;
}

export const shannon: EntropyPart<Shannon> = {
  kind: "shannon",
  signature: shannonSignature,
  math: "p = exp(θ − max θ) / Σ exp(θ − max θ)  (softmax; Ω* = logsumexp)",
  shiftInvariant: true,
  sparse: false,
  reference: (scores) => softmax(scores),
  conjugate: (scores) => logsumexp(scores),
  wgsl: () => ({ kind: "exp", math: "p = softmax(s)", zeroMemory: false }),
};
