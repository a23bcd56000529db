// The plan a run would use on a given adapter: the rules with that adapter's limits, loop budget
// and thread choices, or the tuned plan `hopc tune` cached for its shape bucket. `hopc explain
// --emit plan` and the library's `plan()` print it; `load` (src/runtime/retriever.ts) makes the same
// choices when it binds memories.
import { HopError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { adapterChoices, loopBudgetFor } from "../runtime/blocked/plan.ts";
import { lookupTuned } from "../runtime/plan_cache.ts";
import { DEFAULT_LIMITS, type DeviceLimits, makePlan, type Plan } from "./plan.ts";

/** What planning needs to know of an adapter (a GpuContext has both). */
export interface AdapterFacts {
  /** One line naming the adapter (it picks the loop budget and the thread counts). */
  info: string;
  limits: DeviceLimits;
}

/**
 * The plan for `model` at memory shape (M, D) on `adapter`, or with WebGPU's default limits and
 * the llvmpipe loop budget (the strictest) when there is none. `batch` picks the tuned plan's
 * query bucket (default 64, as `load` assumes).
 */
export async function planForAdapter(
  model: Model,
  shape: { M: number; D: number },
  adapter: AdapterFacts | null,
  batch = 64,
): Promise<Plan> {
  const info = adapter?.info ?? "";
  const limits = adapter?.limits ?? DEFAULT_LIMITS;
  const tuned = adapter ? await lookupTuned(info, model, shape.M, shape.D, batch) : null;
  const rules = {
    loopBudget: adapter ? loopBudgetFor(info) : 60000,
    blocked: adapterChoices(info),
  };
  if (tuned) {
    try {
      return makePlan(model, shape, limits, {
        ...rules,
        ...tuned,
        blocked: { ...rules.blocked, ...tuned.blocked },
      });
    } catch (e) {
      // A tuned plan that does not fit this shape (same bucket, larger M): the rules decide.
      if (!(e instanceof HopError)) throw e;
    }
  }
  return makePlan(model, shape, limits, rules);
}
