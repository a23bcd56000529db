// What the page keeps on `globalThis.hopcPlayground`: the last run as shown and the 2-D maps.
// The browser test (tests/browser_test.ts) and tools/playground_screenshot.ts read it through
// Playwright, so the type lives here, once, for both sides.
import type { Diagnostic } from "./hopc_api.ts";
import type { QuerySpec } from "./data.ts";
import type { BasinMap } from "./basins.ts";

/** Everything the page showed after its last run (read by the browser test). */
export interface Shown {
  source: string;
  modelName: string;
  dataset: string;
  spec: QuerySpec;
  Q: number[];
  /** The GPU's final states, drawn as "retrieved". */
  states: number[];
  weights: number[] | null;
  reference: { states: number[]; ms: number } | null;
  /** max |GPU - float64| over the states, null until the reference arrives. */
  maxError: number | null;
  msPerCall: number;
}

export interface PlaygroundHooks {
  shown: Shown | null;
  diagnostics: Diagnostic[];
  /** Resolves when the page has wired itself up (adapter found or not). */
  ready: Promise<void> | null;
  /** Retrieval runs finished (ok or not). */
  runs: number;
  /** The 2-D mode: the memories placed and the maps last drawn. */
  basins: { memories: [number, number][]; maps: BasinMap[]; draws: number };
}

declare global {
  var hopcPlayground: PlaygroundHooks;
}
