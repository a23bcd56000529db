// The recall protocol as a library call (src/recall/protocol.ts): free recall, constrained-
// sparsemax free recall and sequential recall over a model and its memories, on the float64
// reference or, given a device, with each retrieval on the GPU.
import { type Matrix, toMat } from "./matrix.ts";
import { type Gpu, type ModelLike, runContext } from "./run.ts";
import { recall as runRecall, type RecallOptions, type RecallResult } from "../recall/protocol.ts";

/**
 * Runs R recalls (default: one per memory) from memory `options.start` (default 0) and returns
 * the recalled indices, the unique memory ratio, the Levenshtein coefficient and the state after
 * each recall. Without `gpu` it runs the float64 reference; with it, each retrieval is a GPU
 * retrieval (csparsemax steps in a kernel of their own; a shape past the adapter's loop budget
 * throws a HopError naming it). Bad input
 * (a start out of range, NaN, a non-positive gamma, ...) throws a HopError before any work.
 */
export async function recall(
  model: ModelLike,
  memories: Matrix,
  options: RecallOptions,
  gpu?: Gpu,
): Promise<RecallResult> {
  const ir = "ir" in model ? model.ir : model;
  return await runRecall(ir, toMat(memories, "memories"), options, gpu && runContext(gpu));
}
