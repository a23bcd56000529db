// A worker of bench.ts: runs hopc's float64 reference interpreter (src/reference/interpreter.ts)
// on the first rows of the queries while the main thread times the GPU. The memories arrive on a
// SharedArrayBuffer (no copy); the model arrives as `.hop` text and is checked here again.
import { retrieveReference } from "../../src/reference/interpreter.ts";
import { buildModel } from "./data.ts";

export interface RefRequest {
  id: number;
  text: string;
  X: Float64Array;
  M: number;
  D: number;
  /** The queries to run: rows x D. */
  Q: Float64Array;
  rows: number;
}

export type RefReply =
  | { id: number; states: Float64Array; ms: number }
  | { id: number; error: string };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<RefRequest>) => void) | null;
  postMessage(m: RefReply): void;
};

scope.onmessage = (e) => {
  const { id, text, X, M, D, Q, rows } = e.data;
  try {
    const t = performance.now();
    const out = retrieveReference(
      buildModel(text),
      { rows: M, cols: D, data: X },
      { rows, cols: D, data: Q },
    );
    scope.postMessage({ id, states: out.states.data, ms: performance.now() - t });
  } catch (err) {
    scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
};
