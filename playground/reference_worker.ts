/// <reference lib="webworker" />
// The float64 reference interpreter in a worker, so that a large reference run never freezes the
// page while the GPU result is already on screen. Messages: { id, model, X, Q } in (the model is
// the checked IR, plain data), { id, states, weights, trace, ms } or { id, error } out.
import { type Mat, type Model, retrieveReference } from "./hopc_api.ts";

interface Request {
  id: number;
  model: Model;
  X: Mat;
  Q: Mat;
}

self.onmessage = (e: MessageEvent<Request>) => {
  const { id, model, X, Q } = e.data;
  try {
    const t0 = performance.now();
    const out = retrieveReference(model, X, Q);
    const ms = performance.now() - t0;
    const states = out.states.data, weights = out.weights.data;
    self.postMessage(
      { id, states, weights, trace: out.trace, stepsRun: out.stepsRun, ms },
      [states.buffer, weights.buffer],
    );
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
