// The checked model IR: the one normalized description of a model that the float64 reference
// interpreter and the WebGPU compiler both consume. Every field is resolved (defaults filled in,
// params substituted), so consumers never look at the source text again. Source spans are kept
// beside the values so that checks which need the data's shapes (k <= M, ...) can still point at
// the line that set the value.
import { z } from "zod";

export const Span = z.object({
  line: z.number().int().min(1),
  col: z.number().int().min(1),
  /** 0-based offsets into the source text, end exclusive. */
  start: z.number().int().min(0),
  end: z.number().int().min(0),
});
export type Span = z.infer<typeof Span>;

const positive = z.number().finite().positive();
const count = z.number().int().min(1);
const seed = z.number().int().min(0).max(0xffffffff);

export const Memory = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("discrete") }),
  z.object({
    kind: z.literal("continuous"),
    basis: z.enum(["box", "gaussian"]),
    /** N, the number of basis functions (rows of the coefficient matrix B). */
    functions: count,
    /** Standard deviation of each gaussian basis function over t in [0, 1]; unused for box. */
    width: positive,
    ridge: z.number().finite().min(0),
    /** Quadrature samples over [0, 1] (trapezoid rule). */
    points: z.number().int().min(2),
    quadrature: z.enum(["exact", "trapezoid"]),
  }),
]);
export type Memory = z.infer<typeof Memory>;

export const Similarity = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("dot") }),
  z.object({ kind: z.literal("cosine") }),
  z.object({ kind: z.literal("euclidean") }),
  z.object({ kind: z.literal("manhattan") }),
  z.object({ kind: z.literal("reciprocal_manhattan") }),
  z.object({ kind: z.literal("reciprocal_euclidean") }),
  z.object({ kind: z.literal("normalized_dot") }),
  z.object({ kind: z.literal("kl") }),
  z.object({ kind: z.literal("reverse_kl") }),
  z.object({ kind: z.literal("js") }),
  z.object({
    kind: z.literal("features"),
    map: z.enum(["positive", "elu", "relu"]),
    /** F, the feature dimension (for elu, F = D and this is ignored). */
    count: count,
    seed,
  }),
]);
export type Similarity = z.infer<typeof Similarity>;

export const Entropy = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("shannon") }),
  z.object({ kind: z.literal("tsallis"), alpha: z.number().finite().gt(1) }),
  z.object({ kind: z.literal("sparsemax") }),
  z.object({ kind: z.literal("normmax"), gamma: z.number().finite().gt(1) }),
  z.object({ kind: z.literal("ksubsets"), k: count }),
  z.object({ kind: z.literal("softmax1") }),
]);
export type Entropy = z.infer<typeof Entropy>;

export const Mask = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }),
  z.object({ kind: z.literal("topk"), k: count }),
  z.object({ kind: z.literal("random"), keep: z.number().finite().gt(0).max(1), seed }),
]);
export type Mask = z.infer<typeof Mask>;

/**
 * The separation function (UHN, MATH.md 7.2; HFYN's classic DAM baselines, 2.6 and 7.8):
 * `fenchel_young` (the default) uses the entropy's Fenchel-Young normalizer; the others replace it and
 * read the scores without beta (src/parts/separation/).
 */
const normalize = z.enum(["raw", "sum"]);
export const Separation = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("fenchel_young") }),
  z.object({ kind: z.literal("linear"), normalize }),
  z.object({ kind: z.literal("poly"), n: count, normalize }),
  z.object({ kind: z.literal("exp"), scale: positive, normalize }),
  z.object({ kind: z.literal("max"), normalize }),
]);
export type Separation = z.infer<typeof Separation>;

export const Post = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("identity") }),
  z.object({ kind: z.literal("l2"), radius: positive }),
  z.object({ kind: z.literal("layernorm"), eps: positive }),
  z.object({ kind: z.literal("tanh") }),
]);
export type Post = z.infer<typeof Post>;

export const Steps = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("fixed"), count }),
  z.object({ kind: z.literal("until"), tol: positive, max: count }),
]);
export type Steps = z.infer<typeof Steps>;

export const Model = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  memory: Memory,
  similarity: Similarity,
  entropy: Entropy,
  separation: Separation.default({ kind: "fenchel_young" }),
  mask: Mask,
  post: Post,
  beta: positive,
  steps: Steps,
  /** Params after `--set` overrides; fields above already hold the substituted values. */
  params: z.record(z.string(), z.number().finite()),
  source: z.object({
    file: z.string(),
    /** Span of the whole model block. */
    span: Span,
    /**
     * Where each value came from, keyed by path ("beta", "entropy", "entropy.k", "mask.k", ...).
     * Absent for defaults.
     */
    spans: z.record(z.string(), Span),
  }),
});
export type Model = z.infer<typeof Model>;

/** Defaults of every field, as LANGUAGE.md section 1 lists them (first value of each row). */
export const DEFAULTS = {
  memory: { kind: "discrete" } as Memory,
  similarity: { kind: "dot" } as Similarity,
  entropy: { kind: "shannon" } as Entropy,
  separation: { kind: "fenchel_young" } as Separation,
  mask: { kind: "none" } as Mask,
  post: { kind: "identity" } as Post,
  beta: 1,
  steps: { kind: "fixed", count: 1 } as Steps,
} as const;

/** Defaults of arguments; `width` of a gaussian basis defaults to 1/functions (see continuousWidth). */
export const ARG_DEFAULTS = {
  continuous: { basis: "box", functions: 64, ridge: 0.5, points: 500, quadrature: "exact" },
  features: { map: "positive", count: 256, seed: 0 },
  l2: { radius: 1 },
  layernorm: { eps: 1e-5 },
  random: { seed: 0 },
  separation: { normalize: "raw" },
  exp: { scale: 1, normalize: "raw" },
  until: { tol: 1e-6, max: 100 },
} as const;

/** Whether a normalizer can see the scores shifted by a constant (MATH.md section 0). */
export function shiftInvariant(e: Entropy): boolean {
  return e.kind !== "softmax1";
}

/** Whether the weights are exactly sparse (thresholded maps), so supports can be compared. */
export function sparseEntropy(e: Entropy): boolean {
  return e.kind === "tsallis" || e.kind === "sparsemax" || e.kind === "normmax" ||
    e.kind === "ksubsets";
}

/** Short human name of a part, as written in the language (`tsallis(alpha = 1.5)`). */
export function describe(part: { kind: string } & Record<string, unknown>): string {
  const args = Object.entries(part).filter(([k]) => k !== "kind").map(([k, v]) => `${k} = ${v}`);
  return args.length ? `${part.kind}(${args.join(", ")})` : part.kind;
}
