/// <reference lib="dom" />
// The page's side of the reference worker: one worker, one promise per request.
import type { Mat, Model, StepTrace } from "./hopc_api.ts";

export interface ReferenceResult {
  states: Float64Array;
  weights: Float64Array;
  trace: StepTrace[];
  stepsRun: number[];
  ms: number;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { ok: (r: ReferenceResult) => void; fail: (e: Error) => void }>();

export function referenceInWorker(model: Model, X: Mat, Q: Mat): Promise<ReferenceResult> {
  if (!worker) {
    // A sibling of the page's bundle in the built folder (see build.ts).
    worker = new Worker("reference_worker.js", { type: "module" });
    worker.onmessage = (e) => {
      const { id, error, ...result } = e.data;
      const p = pending.get(id);
      pending.delete(id);
      if (error) p?.fail(new Error(error));
      else p?.ok(result as ReferenceResult);
    };
  }
  const id = nextId++;
  return new Promise((ok, fail) => {
    pending.set(id, { ok, fail });
    // Copies, not transfers: the page keeps its X and Q for the GPU and the pictures.
    worker!.postMessage({ id, model, X, Q });
  });
}
