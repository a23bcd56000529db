// The kernel plan: a pure function from (model IR, shapes, adapter limits and features) to a plain
// JSON description of the GPU work. It decides what is fused, how many threads a workgroup has,
// where the scores of a query live, how X is tiled through workgroup memory, and how many bisection
// iterations the thresholded maps take. The plan is also the pipeline cache key: two runs whose
// plans are equal share one compiled pipeline, and everything that does not change the code (M, B,
// the true D) travels as uniforms.
import { z } from "zod";
import { HopError } from "../diagnostics.ts";
import { type Model, Steps } from "../ir.ts";
import type { Shapes } from "../shapes.ts";

/** The adapter facts a plan depends on (a subset of GPUSupportedLimits, plus features). */
export const DeviceLimits = z.object({
  maxComputeWorkgroupStorageSize: z.number().int().positive(),
  maxComputeInvocationsPerWorkgroup: z.number().int().positive(),
  maxComputeWorkgroupSizeX: z.number().int().positive(),
  maxStorageBufferBindingSize: z.number().positive(),
  maxBufferSize: z.number().positive(),
  maxComputeWorkgroupsPerDimension: z.number().int().positive(),
  subgroups: z.boolean(),
});
export type DeviceLimits = z.infer<typeof DeviceLimits>;

/** WebGPU's guaranteed minimums: what a plan may assume with no adapter at hand. */
export const DEFAULT_LIMITS: DeviceLimits = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupsPerDimension: 65535,
  subgroups: false,
};

export const Plan = z.object({
  model: z.string(),
  /**
   * online: softmax-like maps, one pass over X per step that computes scores and accumulates the
   *   readout with a running max (MATH.md 3.1).
   * threshold: maps that need the whole score row (entmax, sparsemax, normmax, k-subsets, or any
   *   map behind a top-k mask): scores pass, threshold search, sparse readout.
   */
  family: z.enum(["online", "threshold"]),
  /** Every step of retrieval for one query runs inside one workgroup: no host round trip. */
  fusedSteps: z.literal(true),
  queriesPerWorkgroup: z.literal(1),
  workgroupSize: z.number().int().positive(),
  /** D rounded up to a multiple of 4: memories and states are packed as vec4<f32>. */
  paddedDim: z.number().int().positive(),
  /** Rows of X staged through workgroup memory at a time (read once per step from storage). */
  tileRows: z.number().int().positive(),
  /** Where the score row of a query lives (threshold family). */
  scores: z.enum(["workgroup", "storage", "none"]),
  /** Largest M whose score row fits in workgroup memory with this plan. */
  rowCapacity: z.number().int().min(0),
  bisectionIterations: z.number().int().min(0),
  steps: Steps,
  /** Bytes of workgroup memory the shader declares (never above the adapter's limit). */
  workgroupBytes: z.number().int().positive(),
  /** Why each choice was made, for `hopc explain --emit plan` and the WGSL header. */
  notes: z.array(z.string()),
});
export type Plan = z.infer<typeof Plan>;

const F32 = 4, VEC4 = 16;

export function makePlan(
  model: Model,
  shapes: Shapes,
  limits: DeviceLimits = DEFAULT_LIMITS,
): Plan {
  const notes: string[] = [];
  const fail = (message: string, hint: string) =>
    new HopError([{
      file: model.source.file,
      line: model.source.span.line,
      col: model.source.span.col,
      length: 5,
      severity: "error",
      message: `model \`${model.name}\`: ${message}`,
      hint,
    }]);
  if (model.memory.kind !== "discrete" || model.similarity.kind === "features") {
    throw fail(
      `${
        model.memory.kind === "continuous" ? "continuous memory" : "features similarity"
      } has no GPU lowering yet`,
      "run it with --device cpu (the float64 reference)",
    );
  }

  // Workgroup size: as many threads as the adapter allows up to 256 (8 warps / 4 wavefronts on
  // real GPUs), a power of two so tree reductions halve evenly.
  const maxThreads = Math.min(
    limits.maxComputeInvocationsPerWorkgroup,
    limits.maxComputeWorkgroupSizeX,
  );
  let workgroupSize = 1;
  while (workgroupSize * 2 <= Math.min(256, maxThreads)) workgroupSize *= 2;

  const paddedDim = Math.ceil(shapes.D / 4) * 4;
  const d4 = paddedDim / 4;
  const groups = Math.floor(workgroupSize / Math.min(d4, workgroupSize));
  const thresholded = model.entropy.kind !== "shannon" && model.entropy.kind !== "softmax1";
  const family = thresholded || model.mask.kind === "topk" ? "threshold" : "online";
  if (family === "threshold" && !thresholded) {
    notes.push("top-k mask: the score row is kept to select the K largest before the softmax");
  }

  // Workgroup memory, array by array, exactly as src/wgsl/kernel.ts declares it.
  // Some drivers (Mesa's GL backend here) add a few bytes of their own: keep 256 spare.
  const budget = limits.maxComputeWorkgroupStorageSize - 256;
  const fixed = 2 * d4 * VEC4 + // state q and readout o
    2 * workgroupSize * F32 + // partial dot products, reductions
    (groups > 1 ? workgroupSize * VEC4 : 0) + // per-group readout partials
    (family === "online" ? (groups > 1 ? 2 * groups * F32 : 0) + 8 : 0) +
    (model.mask.kind === "random" || model.mask.kind === "topk" ? workgroupSize * F32 : 0);
  const perTileRow = d4 * VEC4 + F32;
  if (fixed + perTileRow > budget) {
    throw fail(
      `dimension D = ${shapes.D} needs ${
        fixed + perTileRow
      } bytes of workgroup memory, over this adapter's ${budget}`,
      "use --device cpu for vectors this long",
    );
  }

  // Tile rows: up to one per thread, within half of what is left (the rest may hold the score row).
  const left = budget - fixed;
  let tileRows = Math.min(
    workgroupSize,
    Math.floor((family === "threshold" ? left / 2 : left) / perTileRow),
  );
  tileRows = Math.max(1, tileRows);
  if (tileRows < 4) {
    notes.push(
      `D = ${shapes.D} is large: only ${tileRows} row(s) of X per tile fit in workgroup memory`,
    );
  }

  let scores: Plan["scores"] = "none";
  let rowCapacity = 0;
  let workgroupBytes = fixed + tileRows * perTileRow;
  if (family === "threshold") {
    rowCapacity = Math.floor((budget - workgroupBytes) / F32);
    if (shapes.M <= rowCapacity) {
      scores = "workgroup";
      // Declare the row at the capacity so every M up to it shares this pipeline.
      workgroupBytes += rowCapacity * F32;
      notes.push(`score row in workgroup memory (M = ${shapes.M} <= ${rowCapacity})`);
    } else {
      scores = "storage";
      rowCapacity = 0;
      notes.push(
        `score row in a storage scratch buffer (M = ${shapes.M} does not fit in workgroup memory)`,
      );
    }
  } else {
    notes.push(
      "online softmax: scores and readout in one pass over each X tile, with a running max",
    );
  }

  // 30 halvings of an interval of width <= 1 (after the max is subtracted) reach f32's resolution
  // near the threshold (MATH.md 3.4 table); k-subsets' interval is the score range, so 40.
  const bisectionIterations = family !== "threshold"
    ? 0
    : model.entropy.kind === "ksubsets" || model.mask.kind === "topk"
    ? 40
    : 30;

  return Plan.parse({
    model: model.name,
    family,
    fusedSteps: true,
    queriesPerWorkgroup: 1,
    workgroupSize,
    paddedDim,
    tileRows,
    scores,
    rowCapacity,
    bisectionIterations,
    steps: model.steps,
    workgroupBytes,
    notes,
  });
}

/** The cache key of a compiled pipeline: the model's code-relevant parts and the plan. */
export function planKey(model: Model, plan: Plan): string {
  const { source: _s, params: _p, name: _n, ...code } = model;
  return JSON.stringify({ code, plan: { ...plan, model: "", notes: [] } });
}
