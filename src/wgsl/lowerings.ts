// The WGSL lowering of each part of a model, looked up in the part registry: every part module
// in src/parts/ states its lowering next to its float64 reference.
import type { Entropy, Mask, Post, Separation, Similarity } from "../ir.ts";
import {
  entropyPart,
  maskPart,
  postPart,
  separationPart,
  similarityPart,
} from "../parts/registry.ts";
import type { EntropyWgsl, MaskWgsl, PostWgsl, SeparationWgsl, SimilarityWgsl } from "./types.ts";

export * from "./types.ts";

export function similarityWgsl(s: Similarity): SimilarityWgsl {
  return similarityPart(s).wgsl(s);
}

export function entropyWgsl(e: Entropy): EntropyWgsl {
  return entropyPart(e).wgsl(e);
}

export function postWgsl(p: Post, beta: number): PostWgsl {
  return postPart(p).wgsl(p, beta);
}

/** A separation function's lowering (null for the default `fenchel_young`: the entropy's). */
export function separationWgsl(s: Separation): SeparationWgsl | null {
  return s.kind === "fenchel_young" ? null : separationPart(s).wgsl(s);
}

export function maskWgsl(m: Mask): MaskWgsl {
  return maskPart(m).wgsl(m);
}
