// GPU retrieval for the compiler's own use (the CLI, tests, benchmarks): the model IR in, the
// standalone runtime (what generated modules use too) underneath.
//
//   const r = await load(model, X);          // memories prepared and uploaded once
//   const out = await r.retrieve(Q);         // one submission, one readback per call
import { HopError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { makePlan, type Plan } from "../plan/plan.ts";
import { checkShapes, modelError } from "../shapes.ts";
import { kernelSpec } from "../wgsl/kernel.ts";
import { acquireDevice, type GpuContext } from "./device.ts";
import { PlanError, Retrieval, type RetrieveResult } from "./standalone.ts";
import { poolContinuous } from "../plan/continuous_pass.ts";
import { fitCoefficients } from "../reference/continuous.ts";
import { prepareMemories } from "../reference/interpreter.ts";

export type GpuResult = RetrieveResult;

export interface Retriever {
  readonly model: Model;
  readonly plan: Plan;
  readonly shapes: { M: number; D: number };
  /** The generated WGSL (what `hopc compile` writes). */
  readonly code: string;
  retrieve(Q: Mat, opts?: { weights?: boolean; transformed?: boolean }): Promise<GpuResult>;
  destroy(): void;
}

export async function load(model: Model, X: Mat, ctx?: GpuContext): Promise<Retriever> {
  ctx ??= await acquireDevice();
  const M = X.rows, D = X.cols;
  const plan = makePlan(model, { M, D }, ctx.limits); // throws a HopError for unsupported models
  // Continuous box/exact memories: fit the pooled rows on the host (float64, O(L D)) from the
  // post-transformed memories, then run the discrete kernel on them.
  const pooled = poolContinuous(model);
  const kernel = kernelSpec(pooled?.model ?? model);
  const rows = pooled ? fitCoefficients(pooled.spec, prepareMemories(model, X)) : X;
  let retrieval: Retrieval;
  try {
    retrieval = await Retrieval.load(ctx.device, kernel, rows.data, rows.rows, D, {
      limits: ctx.limits,
      memoriesTransformed: pooled !== null,
    });
  } catch (e) {
    if (e instanceof PlanError) throw modelError(model, "memory", e.message, e.hint);
    throw e;
  }
  return {
    model,
    plan,
    shapes: { M, D },
    code: kernel.wgsl,
    async retrieve(Q, opts = {}) {
      const { B } = checkShapes(model, X, Q);
      try {
        return await retrieval.retrieve(Q.data, B, opts);
      } catch (e) {
        if (e instanceof PlanError) {
          throw new HopError([{
            file: "queries",
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
