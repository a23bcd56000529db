/**
 * hopc as a library: compile a `.hop` source to diagnostics, model IR, kernel plans and WGSL; run
 * retrieval on a WebGPU device; check it against the float64 reference; read and write `.npy`
 * bytes. Nothing here reads files or needs Deno, so the same module runs in a browser (built as
 * `dist/hopc.js` by `deno task bundle`).
 *
 * ```ts
 * import { acquireDevice, compile, load, matrix, reference } from "./mod.ts";
 *
 * const result = compile(`
 *   model sparse_l2 {
 *     entropy tsallis(alpha = 1.5)
 *     post    l2
 *     beta    4
 *     steps   5
 *   }`);
 * if (!result.ok) throw new Error(result.format()); // FILE:LINE:COL: error: ..., with a caret
 * const model = result.model("sparse_l2");
 *
 * const X = matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]]); // M = 3 memories, D = 3
 * const Q = matrix([[0.9, 0.2, 0]]); // B = 1 query
 * const gpu = await acquireDevice(); // one device per process; NoAdapterError without WebGPU
 * const memory = await load(gpu, model, X); // uploaded once; pipelines compiled once per device
 * const { states } = await memory.retrieve(Q); // one submission, one readback
 * const exact = reference(model, X, Q).states; // float64 on the CPU
 * console.log(states.data, exact.data); // agree to about 1e-6 here
 * memory.destroy();
 * ```
 *
 * A sweep (models x params x data) in one process: keep one device, call `compile` per parameter
 * setting (`sets`) and `load` per data set. Kernels are cached per device by their WGSL text, so
 * reloading a model with other memories compiles nothing; a parameter baked into the WGSL (beta,
 * alpha, ...) compiles once per distinct value. `compileStats()` counts both. See
 * `examples/sweep.ts`.
 *
 * @module
 */
import { type Diagnostic, formatDiagnostics as formatWith } from "./src/diagnostics.ts";
import { type Array2D, parseNpy } from "./src/io/npy.ts";

export {
  compile,
  type CompiledModel,
  type CompileOptions,
  type CompileResult,
  type MemoryShape,
} from "./src/library/compile.ts";
export {
  compileStats,
  type Gpu,
  gpuContext,
  load,
  type LoadOptions,
  type ModelLike,
  reference,
  type Retrieved,
  type Retriever,
} from "./src/library/run.ts";
export { type Matrix, matrix } from "./src/library/matrix.ts";
export { recall } from "./src/library/recall.ts";
export {
  RECALL_MODES,
  type RecallMode,
  type RecallOptions,
  type RecallResult,
} from "./src/recall/protocol.ts";
export {
  levenshtein,
  levenshteinCoefficient,
  sequenceTarget,
  uniqueMemoryRatio,
} from "./src/recall/metrics.ts";
export { constrainedSparsemax } from "./src/recall/csparsemax.ts";
export { sequenceBudgetSparseMap } from "./src/recall/sequence_budget.ts";
export {
  type AhopFit,
  asMapFit,
  decodeFit,
  encodeFit,
  isAhopFit,
  type MapFit,
  type StoredFit,
} from "./src/fit/store.ts";
export type { FitProgress, FitResult, FitSettings } from "./src/fit/fit.ts";
export { encodeNpy } from "./src/io/npy.ts";
export { type Diagnostic, HopError, NoAdapterError } from "./src/diagnostics.ts";
export { acquireDevice, type GpuContext, releaseDevice } from "./src/runtime/device.ts";
export type { RunContext } from "./src/runtime/retriever.ts";
export type { Model } from "./src/ir.ts";
export type { Plan } from "./src/plan/plan.ts";
export type { RetrievalOutput, StepTrace } from "./src/reference/interpreter.ts";
export type { Array2D } from "./src/io/npy.ts";

/**
 * Parse the bytes of a `.npy` file (format 1.0-3.0, 2-D, C order, `<f4` or `<f8`) into float64
 * rows; `name` is what error messages call it. Throws a HopError for anything else, or a NaN.
 */
export function readNpy(bytes: Uint8Array, name = "array.npy"): Array2D {
  return parseNpy(bytes, name);
}

/**
 * Diagnostics as the command line prints them: `FILE:LINE:COL: error: MESSAGE`, the source line
 * and a caret under the span, then any hint. `sources` maps each file name to its text (a
 * diagnostic whose file is missing prints its header line only).
 */
export function formatDiagnostics(
  diagnostics: Diagnostic[],
  sources: Map<string, string> | Record<string, string> = {},
): string {
  return formatWith(
    diagnostics,
    sources instanceof Map ? sources : new Map(Object.entries(sources)),
  );
}
