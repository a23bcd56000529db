// The part registry: kind → part, for each category of the model IR. The interpreter and the
// compiler look parts up only here (src/parts/types.ts states the contract), and the IR's part
// types and schemas (src/ir.ts) and the checker's rules (src/check.ts) are derived from the parts'
// signatures listed here: adding a part is its module plus one line below.
import type { z } from "zod";
import { type Signature, signature, type SpecOf, unionOf } from "./signature.ts";
import type {
  EntropyPart,
  MaskPart,
  PostPart,
  ReadoutPart,
  SeparationPart,
  SimilarityPart,
} from "./types.ts";
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
import { kernelized, uhop } from "./similarity/learned.ts";
import { ahop } from "./similarity/ahop.ts";
import { topk } from "./mask/topk.ts";
import { random } from "./mask/random.ts";
import { linearSeparation } from "./separation/linear.ts";
import { polySeparation } from "./separation/poly.ts";
import { expSeparation } from "./separation/exp.ts";
import { maxSeparation } from "./separation/max.ts";
import { keysReadout } from "./readout/keys.ts";
import { projectReadout } from "./readout/project.ts";

/**
 * The IR value of a part: the spec type its module is written for (from its WGSL lowering, or
 * for the readout parts, which have none, from the function that computes their rows).
 */
type SpecOfPart<P> = P extends { wgsl(spec: infer S, ...rest: never[]): unknown } ? S
  : P extends { rows(spec: infer S, ...rest: never[]): unknown } ? S
  : never;

/** The spec type of every part of a category (a union discriminated by `kind`). */
type SpecsOf<R> = { [K in keyof R]: SpecOfPart<R[K]> }[keyof R];

export const noneSignature = signature("none");

/** mask `none`: removes nothing. */
export const noMask: MaskPart<SpecOf<typeof noneSignature>> = {
  kind: "none",
  signature: noneSignature,
  math: "no mask",
  reference: () => {},
  wgsl: () => ({ kind: "none" }),
};

export const entropies = {
  shannon,
  tsallis,
  sparsemax,
  normmax,
  ksubsets,
  softmax1,
} as const;

export const posts = {
  identity,
  l2,
  layernorm,
  tanh,
} as const;

export const similarities = {
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
  uhop,
  kernelized,
  ahop,
} as const;

export const masks = {
  none: noMask,
  topk,
  random,
} as const;

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

/** The readouts (src/parts/readout/), by kind: the field `readout`; the first is the default. */
export const readouts = {
  keys: keysReadout,
  project: projectReadout,
} as const;

/** The readout part of a spec. */
export function readoutPart<R extends Readout>(spec: R): ReadoutPart<R> {
  return readouts[spec.kind] as unknown as ReadoutPart<R>;
}

/** The `separation` field's default: the entropy's Fenchel-Young normalizer (no part). */
export const fenchelYoungSignature = signature("fenchel_young");

// The IR's part types, one union per field, from the parts' own spec types.
export type Entropy = SpecsOf<typeof entropies>;
export type Post = SpecsOf<typeof posts>;
export type Similarity = SpecsOf<typeof similarities>;
export type Mask = SpecsOf<typeof masks>;
export type Separation = SpecOf<typeof fenchelYoungSignature> | SpecsOf<typeof separations>;
export type Readout = SpecsOf<typeof readouts>;

/** The signatures of each part field, in registry order (the first is the field's default). */
export const SIGNATURES = {
  similarity: Object.values(similarities).map((p) => p.signature),
  entropy: Object.values(entropies).map((p) => p.signature),
  separation: [fenchelYoungSignature, ...Object.values(separations).map((p) => p.signature)],
  mask: Object.values(masks).map((p) => p.signature),
  post: Object.values(posts).map((p) => p.signature),
  readout: Object.values(readouts).map((p) => p.signature),
} as const satisfies Record<string, readonly Signature[]>;

// Their IR schemas (src/ir.ts builds the model schema from them).
export const EntropySchema = unionOf(SIGNATURES.entropy) as unknown as z.ZodType<Entropy>;
export const PostSchema = unionOf(SIGNATURES.post) as unknown as z.ZodType<Post>;
export const SimilaritySchema = unionOf(SIGNATURES.similarity) as unknown as z.ZodType<Similarity>;
export const MaskSchema = unionOf(SIGNATURES.mask) as unknown as z.ZodType<Mask>;
export const SeparationSchema = unionOf(SIGNATURES.separation) as unknown as z.ZodType<
  Separation
>;
export const ReadoutSchema = unionOf(SIGNATURES.readout) as unknown as z.ZodType<Readout>;
