// The checked model IR: the one normalized description of a model that the float64 reference
// interpreter and the WebGPU compiler both consume. Every field is resolved (defaults filled in,
// params substituted), so consumers never look at the source text again. Source spans are kept
// beside the values so that checks which need the data's shapes (k <= M, ...) can still point at
// the line that set the value.
import { z } from "zod";
import {
  type Entropy as RegistryEntropy,
  EntropySchema,
  type Mask as RegistryMask,
  MaskSchema,
  type Post as RegistryPost,
  PostSchema,
  type Readout as RegistryReadout,
  ReadoutSchema,
  type Separation as RegistrySeparation,
  SeparationSchema,
  type Similarity as RegistrySimilarity,
  SimilaritySchema,
} from "./parts/registry.ts";

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

// The part fields: one union per field, derived from the parts' signatures in the registry
// (src/parts/registry.ts, src/parts/signature.ts), so a new part needs no edit here.
export const Similarity = SimilaritySchema;
export type Similarity = RegistrySimilarity;
export const Entropy = EntropySchema;
export type Entropy = RegistryEntropy;
export const Mask = MaskSchema;
export type Mask = RegistryMask;
/**
 * The separation function (UHN, MATH.md 7.2; HFYN's classic DAM baselines, 2.6 and 7.8):
 * `fenchel_young` (the default) uses the entropy's Fenchel-Young normalizer; the others replace it and
 * read the scores without beta (src/parts/separation/).
 */
export const Separation = SeparationSchema;
export type Separation = RegistrySeparation;
export const Post = PostSchema;
export type Post = RegistryPost;

/**
 * The readout (CDAM, MATH.md 7.7): `keys` (the default) reads the next state from the memories;
 * `project(a, h, c)` from rows a X + h H^T X - c mean(X) over the memory graph (src/parts/readout/).
 */
export const Readout = ReadoutSchema;
export type Readout = RegistryReadout;

/**
 * `relax ETA`: the Euler step x <- x + eta (r - x) of the relaxed dynamics dx/dt = r - x, r the
 * plain update; eta = 1 (the default) is the plain update itself.
 */
export const RELAX_RULE = {
  need: "must be in (0, 1]",
  test: (v: number) => v > 0 && v <= 1,
  hint: (v: number) =>
    v > 1
      ? "eta > 1 steps past the update r (x + eta (r - x) leaves the segment from x to r, and at eta >= 2 a fixed point repels); use 1 for the plain update"
      : "eta <= 0 never moves toward the update; use a small positive rate such as 0.1",
};

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
  readout: Readout.default({ kind: "keys" }),
  relax: z.number().finite().refine(RELAX_RULE.test, { message: RELAX_RULE.need }).default(1),
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
  readout: { kind: "keys" } as Readout,
  relax: 1,
} as const;

/**
 * Defaults of the arguments of `memory continuous` and `steps until` (fields, not registry parts;
 * the parts' defaults are in their signatures). `width` of a gaussian basis defaults to 1/functions.
 */
export const ARG_DEFAULTS = {
  continuous: { basis: "box", functions: 64, ridge: 0.5, points: 500, quadrature: "exact" },
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
