// The part registry: kind → part, for each category of the model IR (src/ir.ts). The interpreter
// and the compiler look parts up only here (src/parts/types.ts states the contract).
import type { Entropy, Mask, Post, Separation, Similarity } from "../ir.ts";
import type { EntropyPart, MaskPart, PostPart, SeparationPart, SimilarityPart } from "./types.ts";
import { shannon } from "./entropy/shannon.ts";
import { tsallis } from "./entropy/tsallis.ts";
import { sparsemax } from "./entropy/sparsemax.ts";
import { normmax } from "./entropy/normmax.ts";
import { ksubsets } from "./entropy/ksubsets.ts";
import { softmax1 } from "./entropy/softmax1.ts";
import { identity } from "./post/identity.ts";
import { l2 } from "./post/l2.ts";
import { layernorm } from "./post/layernorm.ts";
import { tanh } from "./post/tanh.ts";
import { dot } from "./similarity/dot.ts";
import { cosine } from "./similarity/cosine.ts";
import { euclidean } from "./similarity/euclidean.ts";
import { manhattan } from "./similarity/manhattan.ts";
import { featuresPart } from "./similarity/features.ts";
import { reciprocalManhattan } from "./similarity/reciprocal_manhattan.ts";
import { reciprocalEuclidean } from "./similarity/reciprocal_euclidean.ts";
import { normalizedDot } from "./similarity/normalized_dot.ts";
import { kl } from "./similarity/kl.ts";
import { reverseKl } from "./similarity/reverse_kl.ts";
import { js } from "./similarity/js.ts";
import { topk } from "./mask/topk.ts";
import { random } from "./mask/random.ts";
import { linearSeparation } from "./separation/linear.ts";
import { polySeparation } from "./separation/poly.ts";
import { expSeparation } from "./separation/exp.ts";
import { maxSeparation } from "./separation/max.ts";

type Of<U extends { kind: string }, K extends U["kind"]> = Extract<U, { kind: K }>;

/** mask `none`: removes nothing. */
export const noMask: MaskPart<Of<Mask, "none">> = {
  kind: "none",
  math: "no mask",
  reference: () => {},
  wgsl: () => ({ kind: "none" }),
};

export const entropies: { [K in Entropy["kind"]]: EntropyPart<Of<Entropy, K>> } = {
  shannon,
  tsallis,
  sparsemax,
  normmax,
  ksubsets,
  softmax1,
};

export const posts: { [K in Post["kind"]]: PostPart<Of<Post, K>> } = {
  identity,
  l2,
  layernorm,
  tanh,
};

export const similarities: {
  [K in Similarity["kind"]]: K extends "features" ? typeof featuresPart
    : SimilarityPart<Of<Similarity, K>>;
} = {
  dot,
  cosine,
  euclidean,
  manhattan,
  reciprocal_manhattan: reciprocalManhattan,
  reciprocal_euclidean: reciprocalEuclidean,
  normalized_dot: normalizedDot,
  kl,
  reverse_kl: reverseKl,
  js,
  features: featuresPart,
};

export const masks: { [K in Mask["kind"]]: MaskPart<Of<Mask, K>> } = {
  none: noMask,
  topk,
  random,
};

/** The entropy part of a spec. */
export function entropyPart<E extends Entropy>(spec: E): EntropyPart<E> {
  return entropies[spec.kind] as unknown as EntropyPart<E>;
}

/** The post-transform part of a spec. */
export function postPart<P extends Post>(spec: P): PostPart<P> {
  return posts[spec.kind] as unknown as PostPart<P>;
}

/** The similarity part of a spec (for `features`, the kernel functions hang off the part). */
export function similarityPart<S extends Similarity>(spec: S): SimilarityPart<S> {
  return similarities[spec.kind] as unknown as SimilarityPart<S>;
}

/** The mask part of a spec (`none` is a no-op part). */
export function maskPart<K extends Mask>(spec: K): MaskPart<K> {
  return masks[spec.kind] as unknown as MaskPart<K>;
}

/**
 * The separation functions (src/parts/separation/), by kind: the field `separation` of the
 * language; its default `fenchel_young` is no part (the entropy's normalizer runs instead).
 */
export const separations = {
  linear: linearSeparation,
  poly: polySeparation,
  exp: expSeparation,
  max: maxSeparation,
} as const;

/** The separation part of a spec other than the default `entropy`. */
export function separationPart<S extends Exclude<Separation, { kind: "fenchel_young" }>>(
  spec: S,
): SeparationPart<S> {
  return separations[spec.kind] as unknown as SeparationPart<S>;
}
