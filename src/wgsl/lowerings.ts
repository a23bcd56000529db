// The WGSL lowering of each part of a model, looked up in the part registry: every part module
// in src/parts/ states its lowering next to its float64 reference.
import type { Entropy, Mask, Post, Similarity } from "../ir.ts";
import { entropyPart, maskPart, postPart, similarityPart } from "../parts/registry.ts";
import type { EntropyWgsl, MaskWgsl, PostWgsl, SimilarityWgsl } from "./types.ts";

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

export function maskWgsl(m: Mask): MaskWgsl {
  return maskPart(m).wgsl(m);
}
