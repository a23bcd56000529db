// identity post-transform: Ψ(q) = ½‖q‖², ŷ_Ψ(z) = ∇Ψ*(z) = z (MATH.md §2.3).
//
//   forward    q⁺ = z
//   energy     Ψ(q) = ½‖q‖²   (so E(q) = −β⁻¹Ω*(βXq) + ½‖q‖², Ramsauer's energy for softmax)
//   inputs     memories and queries are used as given
import type { PostPart } from "../types.ts";
import { signature, type SpecOf } from "../signature.ts";

/** The part's name and arguments in the language (src/parts/signature.ts). */
export const identitySignature = signature("identity");
type Identity = SpecOf<typeof identitySignature>;

export const identity: PostPart<Identity> = {
  kind: "identity",
  signature: identitySignature,
  math: "q = z  (Ψ = ½‖q‖²)",
  transformsInputs: false,
  reference: (z) => Float64Array.from(z),
  energy: (q) => {
    let s = 0;
    for (const v of q) s += v * v;
    return s / 2;
  },
  wgsl: () => ({ math: "q = z", transformsInputs: false, needs: [], chunk: "v" }),
};
