// `--trace` on the GPU: the fused kernel runs all steps without a host round trip, so a trace runs
// the same kernel one step at a time (a model with `steps 1`, resuming from the previous states)
// and reads back each step's states and weights. Energies are evaluated in float64 on the host
// from those states, with the reference's memories.
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import {
  loadReference,
  type RetrievalOutput,
  type StepTrace,
  transformInput,
} from "../reference/interpreter.ts";
import type { GpuContext } from "./device.ts";
import { load } from "./retriever.ts";
import type { ModelFitOptions } from "../fit/model_fit.ts";
import { applyClamp, clampRow, type Extras, valuesReadout } from "../extras.ts";

export async function traceOnGpu(
  model: Model,
  X: Mat,
  Q: Mat,
  ctx?: GpuContext,
  extras: Extras = {},
  /** A learned similarity's saved fit, or how to report its fit (made once, used by both). */
  fitOptions: ModelFitOptions = {},
): Promise<RetrievalOutput> {
  const reference = loadReference(model, X, { graph: extras.graph, ...fitOptions });
  const single = await load({ ...model, steps: { kind: "fixed", count: 1 } }, X, ctx, {}, {
    graph: extras.graph,
    ...(reference.fit ? { fit: reference.fit } : {}),
  });
  // The relaxed step has no energy (as in the reference): none is reported.
  const energyOf = (q: Float64Array, b: number) =>
    (model.relax ?? 1) === 1 ? reference.energy(q, b) : null;
  // Weights range over memories, or over basis functions for continuous memory.
  const B = Q.rows, D = Q.cols, M = reference.width;
  const maxSteps = model.steps.kind === "fixed" ? model.steps.count : model.steps.max;
  const tol = model.steps.kind === "until" ? model.steps.tol : -1;

  // Step 0: the queries after the input post-transform, as the kernel computes them.
  const states = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const q = Q.data.slice(b * D, (b + 1) * D);
    const s = transformInput(model, q).slice();
    const fixed = clampRow(extras.clamp, b);
    if (fixed) applyClamp(s, q, fixed); // as the kernel's prepare pass does (src/extras.ts)
    states.set(s, b * D);
  }
  const row = (b: number) => states.subarray(b * D, (b + 1) * D);
  const weights = new Float64Array(B * M);
  const stepsRun = new Array<number>(B).fill(0);
  const trace: StepTrace[] = [{
    step: 0,
    energy: Array.from({ length: B }, (_, b) => energyOf(row(b), b)),
    change: new Array(B).fill(0),
    support: new Array(B).fill(0),
    active: B,
  }];
  let active = Array.from({ length: B }, (_, b) => b);
  try {
    for (let t = 1; t <= maxSteps && active.length > 0; t++) {
      const input = new Float64Array(active.length * D);
      active.forEach((b, j) => input.set(row(b), j * D));
      // The random mask hashes the query's index in the batch: only a full batch keeps indices.
      const ids = model.mask.kind === "random" ? Array.from({ length: B }, (_, b) => b) : active;
      const batch = ids === active ? input : states.slice();
      // The states passed in hold the given values in their clamped dims: the kernel keeps them.
      const clamp = extras.clamp && {
        rows: ids.length,
        cols: D,
        data: Float64Array.from(ids.flatMap((b) => Array.from(clampRow(extras.clamp, b)!))),
      };
      const out = await single.retrieve(
        { rows: ids.length, cols: D, data: batch },
        { weights: true, transformed: true, clamp },
      );
      const entry: StepTrace = { step: t, energy: [], change: [], support: [], active: 0 };
      const stillActive: number[] = [];
      const isActive = new Set(active);
      for (let b = 0; b < B; b++) {
        if (!isActive.has(b)) {
          entry.energy.push(energyOf(row(b), b));
          entry.change.push(0);
          entry.support.push(countNonZero(weights.subarray(b * M, (b + 1) * M)));
          continue;
        }
        const j = ids === active ? active.indexOf(b) : b;
        const next = Float64Array.from(out.states.subarray(j * D, (j + 1) * D));
        let moved = 0;
        for (let d = 0; d < D; d++) moved += (next[d] - states[b * D + d]) ** 2;
        moved = Math.sqrt(moved);
        states.set(next, b * D);
        weights.set(out.weights!.subarray(j * M, (j + 1) * M), b * M);
        stepsRun[b] = t;
        entry.energy.push(energyOf(next, b));
        entry.change.push(moved);
        entry.support.push(countNonZero(weights.subarray(b * M, (b + 1) * M)));
        if (!(moved < tol)) stillActive.push(b);
      }
      active = stillActive;
      entry.active = active.length;
      trace.push(entry);
    }
  } finally {
    single.destroy();
  }
  const weightMat = { rows: B, cols: M, data: weights };
  return {
    // With values, their readout of the final GPU weights (in float64 on the host).
    states: extras.values
      ? valuesReadout(extras.values, weightMat)
      : { rows: B, cols: D, data: states },
    weights: weightMat,
    stepsRun,
    trace,
  };
}

function countNonZero(w: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) c++;
  return c;
}
