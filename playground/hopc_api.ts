// Everything the playground takes from hopc, in one place. The page imports the compiler's own
// modules under src/ (and grammar/) directly; when the library entry point (mod.ts) lands, this
// is the one file to switch over. None of these modules touches Deno.* on the browser path:
// src/runtime/plan_cache.ts reads localStorage when there is no Deno, and device.ts's quietMesa
// catches the ReferenceError of a missing Deno.
export { checkText } from "../src/check.ts";
export { type Diagnostic, HopError } from "../src/diagnostics.ts";
export type { Model } from "../src/ir.ts";
export type { Mat } from "../src/parts/types.ts";
export { parseNpy } from "../src/io/npy.ts";
export { gaussian, uniform01 } from "../src/parts/rng.ts";
export { HopLexer, Model as ModelToken, Param as ParamToken } from "../grammar/tokens.ts";
export { acquireDevice, type GpuContext } from "../src/runtime/device.ts";
export { load, type Retriever } from "../src/runtime/retriever.ts";
export { traceOnGpu } from "../src/runtime/trace.ts";
export {
  type RetrievalOutput,
  retrieveReference,
  type StepTrace,
} from "../src/reference/interpreter.ts";
