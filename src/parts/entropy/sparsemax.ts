// sparsemax: Tsallis α = 2, the Euclidean projection onto the simplex (MATH.md §1, §3.2, §3.12).
//
//   forward    p = [θ − τ]_+,  Σp = 1  (exact by sorting; the GPU uses the §3.12 fixed point)
//   Ω(p)       ½‖p‖² − ½              Ω*(θ) = ⟨θ,p⟩ − Ω(p) = ½ Σ_{i∈S}(θ_i² − τ²) + ½
//   margin     1
//
// The same code as tsallis(alpha = 2); see ./tsallis.ts for the solvers and masking rules.
import type { EntropyPart } from "../types.ts";
import { entmaxWgsl, sparsemaxSort, tsallisConjugate } from "./tsallis.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const sparsemaxSignature = signature("sparsemax");
type Sparsemax = SpecOf<typeof sparsemaxSignature>;

export const sparsemax: EntropyPart<Sparsemax> = {
  kind: "sparsemax",
  signature: sparsemaxSignature,
  math: "p = [θ − τ]_+, Σp = 1  (sparsemax; Ω = ½‖p‖² − ½)",
  shiftInvariant: true,
  sparse: true,
  reference: (scores) => sparsemaxSort(scores),
  conjugate: (scores, weights) => tsallisConjugate(scores, weights, 2),
  wgsl: () => entmaxWgsl(2),
};
