// The kernel plan: a pure function from (model IR, shapes M/D, adapter limits) to plain JSON that
// says what runs on the GPU. Two levels:
//  - model level (src/wgsl/kernel.ts kernelChoices): which family of fused kernel (online softmax,
//    or a kept score row with a threshold search), how many bisection halvings; these shape the
//    WGSL text;
//  - shape level (src/runtime/standalone.ts planShapes): workgroup size, vec4 packing of D, X tile
//    rows, row groups of the readout, where the score row lives; these become the pipeline's
//    override constants, so one WGSL text serves every shape.
// The plan is what `hopc explain --emit plan` prints and what NAME.plan.json records.
import { z } from "zod";
import { HopError } from "../diagnostics.ts";
import { type Model, Steps } from "../ir.ts";
import type { Shapes } from "../shapes.ts";
import { kernelChoices } from "./choices.ts";
import { type BlockedChoices, loopBudgetFor, planBlocked } from "../runtime/blocked/plan.ts";
import type { BlockedPlan } from "../runtime/blocked/types.ts";
import { quadratureUnsupported } from "../wgsl/projected.ts";
import { blockedParts } from "../wgsl/blocked_parts.ts";
import { poolContinuous } from "./continuous_pass.ts";
import {
  overrideConstants,
  PlanError,
  type PlanLimits,
  planShapes,
} from "../runtime/standalone.ts";

export type DeviceLimits = PlanLimits;

/** WebGPU's guaranteed minimums: what a plan may assume with no adapter at hand. */
export const DEFAULT_LIMITS: DeviceLimits = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
};

export const Plan = z.object({
  model: z.string(),
  family: z.enum(["online", "threshold", "features", "quadrature"]),
  /**
   * Which kernels run: `blocked` (query-blocked passes, src/runtime/blocked/), `workgroup` (one
   * workgroup per query runs every step; a tuner's choice where its loops fit the budget), or the
   * features / quadrature kernels (one workgroup per query).
   */
  kernel: z.enum(["blocked", "workgroup", "features", "quadrature"]),
  /** The blocked kernels' plan (for kernel = blocked). */
  blocked: z.custom<BlockedPlan>((v) => typeof v === "object" && v !== null).optional(),
  /** Why this plan: the rules, or a tuned entry of the plan cache. */
  source: z.enum(["rule", "tuned"]),
  bisectionIterations: z.number().int().min(0),
  steps: Steps,
  /** The shapes this plan was made for. */
  shapes: z.object({ M: z.number().int().positive(), D: z.number().int().positive() }),
  workgroupSize: z.number().int().positive(),
  paddedDim: z.number().int().positive(),
  tileRows: z.number().int().positive(),
  lanes: z.number().int().positive(),
  groups: z.number().int().positive(),
  scores: z.enum(["workgroup", "storage", "none"]),
  rowCapacity: z.number().int().min(1),
  workgroupBytes: z.number().int().positive(),
  /** The pipeline's override constants (what the WGSL text leaves open). */
  overrides: z.record(z.string(), z.number()),
  /** A compiler pass that rewrote the model before planning (continuous memory, box, exact). */
  lowering: z.discriminatedUnion("pass", [
    z.object({
      pass: z.literal("continuous-box-exact-to-pooled"),
      functions: z.number().int().positive(),
      betaScale: z.number().positive(),
      note: z.string(),
    }),
    z.object({
      pass: z.literal("continuous-quadrature"),
      functions: z.number().int().positive(),
      points: z.number().int().positive(),
      basis: z.enum(["box", "gaussian"]),
      note: z.string(),
    }),
    z.object({
      pass: z.literal("features-kernel"),
      features: z.number().int().positive(),
      note: z.string(),
    }),
  ]).optional(),
  notes: z.array(z.string()),
});
export type Plan = z.infer<typeof Plan>;

/** Why a model has no GPU lowering, or null if it has one. */
export function gpuUnsupported(model: Model): string | null {
  if (model.memory.kind === "continuous" && !poolContinuous(model)) {
    return quadratureUnsupported(model);
  }
  return null;
}

export function makePlan(
  model: Model,
  shapes: Pick<Shapes, "M" | "D">,
  limits: DeviceLimits = DEFAULT_LIMITS,
  run: {
    kernel?: "blocked" | "workgroup";
    blocked?: BlockedChoices & { source?: BlockedPlan["source"] };
    loopBudget?: number;
  } = {},
): Plan {
  const error = (message: string, hint: string) =>
    new HopError([{
      file: model.source.file,
      line: model.source.span.line,
      col: model.source.span.col,
      length: 5,
      severity: "error",
      message: `model \`${model.name}\`: ${message}`,
      hint,
    }]);
  const unsupported = gpuUnsupported(model);
  if (unsupported) throw error(unsupported, "run it with --device cpu (the float64 reference)");
  // Continuous box/exact memories are planned as the discrete memory of their N pooled rows.
  const pooled = poolContinuous(model);
  if (pooled) {
    return Plan.parse({
      ...makePlan(pooled.model, { M: pooled.spec.functions, D: shapes.D }, limits, run),
      model: model.name,
      lowering: {
        pass: "continuous-box-exact-to-pooled",
        functions: pooled.spec.functions,
        betaScale: pooled.betaScale,
        note:
          `box basis + exact quadrature = discrete retrieval over the ${pooled.spec.functions} pooled rows ` +
          `b_n = sum_bin x / (c_n + ${pooled.spec.ridge}), beta scaled by N^(1 - alpha) = ${pooled.betaScale} (MATH.md 4.2)`,
      },
    });
  }
  const choices = kernelChoices(model);
  const lowering = model.similarity.kind === "features"
    ? {
      pass: "features-kernel" as const,
      features: model.similarity.map === "elu" ? shapes.D : model.similarity.count,
      note:
        `KV = sum_i phi(x_i) x_i^T and ksum = sum_i phi(x_i) are built once per load (float64, on the host, O(M F D)); each step reads only W and KV: O(F D) per query, independent of M = ${shapes.M}`,
    }
    : model.memory.kind === "continuous"
    ? {
      pass: "continuous-quadrature" as const,
      functions: model.memory.functions,
      points: model.memory.points,
      basis: model.memory.basis,
      note:
        `the ${shapes.M} memories are fitted into ${model.memory.functions} coefficient rows once per load (float64 ridge regression on the host); each step scores ${model.memory.points} points of the signal with the ${model.memory.basis} basis evaluated in the kernel (trapezoid rule)`,
    }
    : undefined;
  try {
    const shape = planShapes(
      { family: choices.family, mask: model.mask.kind },
      shapes.M,
      shapes.D,
      limits,
    );
    const family = choices.family;
    // The blocked kernels run every GPU model unless the caller pins the workgroup kernel (which
    // only the memory-row families have).
    const parts = blockedParts(model);
    const memoryRows = family === "online" || family === "threshold";
    if (run.kernel === "workgroup" && model.separation.kind !== "fenchel_young") {
      throw new PlanError(
        `separation \`${model.separation.kind}\` runs on the blocked kernels only; the one-workgroup-per-query kernel has no lowering of it`,
        'leave the kernel choice to the plan (drop kernel: "workgroup")',
      );
    }
    const useBlocked = parts !== null && !(memoryRows && run.kernel === "workgroup");
    const keys = parts?.projected?.kind === "quadrature"
      ? parts.projected.N
      : model.similarity.kind === "features"
      ? (model.similarity.map === "elu" ? shapes.D : model.similarity.count)
      : shapes.M;
    const blocked = useBlocked && parts
      ? planBlocked(
        parts,
        keys,
        shapes.D,
        limits,
        run.loopBudget ?? loopBudgetFor("llvmpipe"),
        run.blocked,
      )
      : undefined;
    return Plan.parse({
      model: model.name,
      kernel: useBlocked ? "blocked" : memoryRows ? "workgroup" : family,
      ...(blocked ? { blocked } : {}),
      source: blocked?.source ?? "rule",
      bisectionIterations: choices.bisectionIterations,
      steps: model.steps,
      shapes: { M: shapes.M, D: shapes.D },
      ...shape,
      overrides: overrideConstants(shape),
      ...(lowering ? { lowering } : {}),
    });
  } catch (e) {
    if (e instanceof PlanError) throw error(e.message, e.hint);
    throw e;
  }
}
