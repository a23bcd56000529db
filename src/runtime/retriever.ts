// GPU retrieval for the compiler's own use (the CLI, tests, benchmarks): the model IR in, the
// standalone runtime (what generated modules use too) underneath.
//
//   const r = await load(model, X);          // memories prepared and uploaded once
//   const out = await r.retrieve(Q);         // one submission, one readback per call
import { HopError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { makePlan, type Plan } from "../plan/plan.ts";
import { checkShapes, checkValues, modelError } from "../shapes.ts";
import { kernelSpec } from "../wgsl/spec.ts";
import { checkExtras, checkGraph, type Extras } from "../extras.ts";
import { modelFit, type ModelFitOptions } from "../fit/model_fit.ts";
import { isAhopFit, type StoredFit } from "../fit/store.ts";
import { isAhop } from "../parts/similarity/ahop.ts";
import { isLearned } from "../parts/similarity/learned.ts";
import { prepareMemories } from "../reference/interpreter.ts";
import { acquireDevice, type GpuContext } from "./device.ts";
import {
  type BlockedChoices,
  type BlockedPlan,
  type LoadOptions,
  PlanError,
  Retrieval,
  type RetrieveResult,
} from "./standalone.ts";
import { adapterChoices, loopBudgetFor } from "./blocked/plan.ts";
import { lookupTuned } from "./plan_cache.ts";

export type GpuResult = RetrieveResult;

export interface Retriever {
  readonly model: Model;
  readonly plan: Plan;
  readonly shapes: { M: number; D: number };
  /** Bytes the memory occupies on the device (its rows and their per-row numbers). */
  readonly deviceBytes: number;
  /** The WGSL that runs this model (the blocked kernels as planned for these shapes). */
  readonly code: string;
  /** The blocked kernels' plan when they run this model (null: another kernel family). */
  readonly blockedPlan: BlockedPlan | null;
  /** The fit of a learned similarity (made at this load, or the one given); else null. */
  readonly fit: StoredFit | null;
  /**
   * `values` [M, Dv] and `clamp` [B, D] or [1, D]: see src/extras.ts (checked here). A `graph`
   * belongs to the load (`data.graph`); one given here is ignored.
   */
  retrieve(
    Q: Mat,
    opts?: { weights?: boolean; transformed?: boolean } & Extras,
  ): Promise<GpuResult>;
  destroy(): void;
}

/** Choices of how a model runs (the tuner and the tests pin them; default: the plan's rules). */
export interface RunChoices {
  kernel?: LoadOptions["kernel"];
  blocked?: BlockedChoices & { source?: BlockedPlan["source"] };
  /** Loop iterations per invocation (default: the adapter's, see loopBudgetFor). */
  loopBudget?: number;
  /** Queries per call the caller expects (picks the tuned plan's B bucket; default 64). */
  batchHint?: number;
  /** Limits to plan with instead of the device's (a test of buffer splitting). */
  limits?: GpuContext["limits"];
}

/** What `load` needs of a GPU context (a GpuContext, or one built from a bare GPUDevice). */
export type RunContext = Pick<GpuContext, "device" | "info" | "limits">;

export async function load(
  model: Model,
  X: Mat,
  ctx?: RunContext,
  choices: RunChoices = {},
  /** The memory graph [M, M] of `readout project` (src/extras.ts), when the model reads one. */
  data: { graph?: Mat } & ModelFitOptions = {},
): Promise<Retriever> {
  checkValues(model, X, null);
  checkGraph(model, X.rows, data.graph);
  // A learned similarity: fitted here once, in float64 on the prepared memories (or given), and
  // the GPU gets those memories already transformed with the fitted map.
  const prepared = isLearned(model.similarity) || isAhop(model.similarity)
    ? prepareMemories(model, X)
    : X;
  const fit = modelFit(model, prepared, data);
  if (fit) data = { ...data, fit, onProgress: undefined };
  ctx ??= await acquireDevice();
  const M = X.rows, D = X.cols;
  const plan = makePlan(model, { M, D }, ctx.limits); // throws a HopError for unsupported models
  // Continuous box/exact memories run the discrete kernel on their pooled rows; continuous
  // quadrature and features models run their own kernels. Their rows are prepared from X inside
  // the runtime's load (kernel.hostPrep), as in a generated module.
  const kernel = kernelSpec(model);
  // A plan `hopc tune` measured on this adapter for this shape bucket, unless the caller chose.
  if (!choices.kernel && !choices.blocked && kernel.blocked) {
    const tuned = await lookupTuned(ctx.info, model, M, D, choices.batchHint ?? 64);
    if (tuned) {
      try {
        return await load(model, X, ctx, { ...choices, ...tuned }, data);
      } catch (e) {
        // A tuned plan that does not fit this shape (same bucket, larger M): the rules decide.
        // Anything else is a real failure and is not hidden.
        if (!(e instanceof HopError)) throw e;
      }
    }
  }
  let retrieval: Awaited<ReturnType<typeof Retrieval.load>>;
  try {
    retrieval = await Retrieval.load(ctx.device, kernel, prepared.data, M, D, {
      limits: choices.limits ?? ctx.limits,
      kernel: choices.kernel,
      blocked: { ...adapterChoices(ctx.info), ...choices.blocked },
      loopBudget: choices.loopBudget ?? loopBudgetFor(ctx.info),
      ...(data.graph ? { graph: data.graph.data } : {}),
      ...(fit
        ? {
          memoriesTransformed: true,
          fit: isAhopFit(fit) ? fit.params : { W: fit.result.map.weight, b: fit.result.map.bias },
        }
        : {}),
    });
  } catch (e) {
    if (e instanceof PlanError) throw modelError(model, "memory", e.message, e.hint);
    throw e;
  }
  return {
    model,
    plan,
    shapes: { M, D },
    deviceBytes: retrieval.memoryBytes,
    code: retrieval.wgsl,
    blockedPlan: retrieval.blockedPlan,
    fit,
    async retrieve(Q, opts = {}) {
      const shapes = checkShapes(model, X, Q);
      checkValues(model, null, Q);
      const { values, clamp, graph: _graph, ...rest } = opts;
      checkExtras(model, shapes, { values, clamp });
      try {
        return await retrieval.retrieve(Q.data, shapes.B, {
          ...rest,
          values: values && { data: values.data, cols: values.cols },
          clamp: clamp?.data,
        });
      } catch (e) {
        if (e instanceof PlanError) {
          throw new HopError([{
            file: /^the values/.test(e.message) ? "values" : "queries",
            line: 1,
            col: 1,
            length: 1,
            severity: "error",
            message: e.message,
            hint: e.hint,
          }]);
        }
        throw e;
      }
    },
    destroy: () => retrieval.destroy(),
  };
}
