// What the command line's commands share: the output channel (so tests can capture it), the
// loading and checking of a .hop file, diagnostics printing, the choice of device and reading a
// saved fit.
import { type Diagnostic, formatDiagnostics, HopError, inputError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { checkText } from "../check.ts";
import { acquireDevice } from "../runtime/device.ts";
import { decodeFit, type StoredFit } from "../fit/store.ts";
import { gpuUnsupported, makePlan } from "../plan/plan.ts";
import { createProgress, type Progress, stderrProgress } from "./progress.ts";

/** Everything a command prints goes through here, so tests can capture it. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Progress of long runs (default: plain lines through `err`). */
  progress?(): Progress;
}

export const denoIo: Io = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
  progress: () => stderrProgress(),
};

export const progressOf = (io: Io): Progress => io.progress?.() ?? createProgress({ line: io.err });

export function reportDiagnostics(
  diags: Diagnostic[],
  sources: Map<string, string>,
  json: boolean,
  io: Io,
) {
  if (json) io.out(JSON.stringify(diags, null, 2));
  else io.err(formatDiagnostics(diags, sources));
}

/** Read, parse and check a `.hop` file; throws HopError with every diagnostic of the file. */
export async function loadModels(
  file: string,
  sets: Record<string, number>,
  sources: Map<string, string>,
): Promise<Model[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw inputError(file, `cannot read the file: ${(e as Error).message}`);
  }
  sources.set(file, text);
  const { models, diagnostics } = checkText(text, file, sets);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new HopError(diagnostics);
  return models;
}

/**
 * `--device gpu` needs an adapter (exit 3 without one) and a model with a GPU lowering; with no
 * `--device`, the GPU is used where both exist, else the float64 reference, with a note.
 */
export async function chooseDevice(
  model: Model,
  asked: "gpu" | "cpu" | undefined,
  io: Io,
  perMemoryWeights: boolean,
): Promise<"gpu" | "cpu"> {
  if (asked === "cpu") return "cpu";
  const noWeights = perMemoryWeights && model.similarity.kind === "features"
    ? "features retrieval on the GPU never forms one weight per memory (it reads KV, not the memories), so --weights and --trace need the cpu"
    : null;
  const unsupported = gpuUnsupported(model) ?? noWeights;
  if (asked === "gpu") {
    if (noWeights) {
      throw new HopError([{
        file: model.source.file,
        line: model.source.span.line,
        col: model.source.span.col,
        length: 5,
        severity: "error",
        message: `model \`${model.name}\`: ${noWeights}`,
        hint: "drop --device gpu (hopc then runs it on the cpu), or drop --weights / --trace",
      }]);
    }
    if (unsupported) makePlan(model, { M: 1, D: 1 }); // throws the diagnostic naming the model
    await acquireDevice(); // throws NoAdapterError (exit 3)
    return "gpu";
  }
  if (unsupported) {
    io.err(
      `hopc: note: model \`${model.name}\`: ${unsupported}; running the float64 reference on the cpu`,
    );
    return "cpu";
  }
  if (!(await acquireDevice({ required: false }))) {
    io.err("hopc: note: no WebGPU adapter; running the float64 reference on the cpu");
    return "cpu";
  }
  return "gpu";
}

/** A saved fit (`--fit F.npz`), with errors naming the file. */
export async function readFit(path: string): Promise<StoredFit> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw inputError(path, `cannot read the fit: ${(e as Error).message}`);
  }
  return decodeFit(bytes, path);
}
