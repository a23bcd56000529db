// `hopc recall`: the HFY free / sequential recall protocol over a model (src/recall/).
import { HopError, inputError } from "../diagnostics.ts";
import { encodeNpy } from "../io/npy.ts";
import { readNpy, writeFileAtomic } from "../io/files.ts";
import { acquireDevice } from "../runtime/device.ts";
import type { ParsedArgs } from "./args.ts";
import { pickModel } from "../pick_model.ts";
import {
  checkRecallOptions,
  recall,
  recallGpuUnsupported,
  recallGpuUnsupportedOn,
  type RecallMode,
  type RecallOptions,
} from "../recall/protocol.ts";
import { type Io, loadModels } from "./io.ts";

/** `hopc recall`: the free / sequential recall protocol (src/recall/protocol.ts). */
export async function recallCommand(
  args: ParsedArgs,
  sources: Map<string, string>,
  io: Io,
): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const model = pickModel(models, args.model, args.file);
  const memPath = args.memories!;
  const X = await readNpy(memPath);
  const r = args.recall!;
  let start: RecallOptions["start"] = r.startIndex ?? 0;
  if (r.start !== undefined) {
    const S = await readNpy(r.start);
    if (S.rows !== 1) {
      throw inputError(
        r.start,
        `the start state has shape [${S.rows}, ${S.cols}]: it must be one row, [1, ${X.cols}]`,
      );
    }
    start = S.data;
  }
  const opts: RecallOptions = {
    mode: r.mode as RecallMode,
    start,
    recalls: r.recalls,
    gamma: r.gamma,
    rate: r.rate,
    omega: r.omega,
    edgeScore: r.edgeScore,
    settle: r.settle,
    settleBeta: r.settleBeta,
  };
  const rename = (e: unknown) => {
    // The protocol names its inputs generically; the command line names the files.
    if (e instanceof HopError) {
      for (const d of e.diagnostics) {
        if (d.file === "memories") d.file = memPath;
        if (d.file === "start" && r.start) d.file = r.start;
      }
    }
    return e;
  };
  try {
    checkRecallOptions(model, X, opts); // every input error before an adapter is looked for
  } catch (e) {
    throw rename(e);
  }
  // --device gpu where the protocol has a GPU path; with no --device, the GPU where it can run.
  let device: "gpu" | "cpu" = args.device ?? "gpu";
  const why = recallGpuUnsupported(model, opts.mode);
  if (why) {
    if (args.device === "gpu") {
      throw inputError(args.file, `model \`${model.name}\`: ${why}`, "use --device cpu");
    }
    if (args.device === undefined) {
      io.err(`hopc: note: ${why}; running the float64 reference on the cpu`);
    }
    device = "cpu";
  }
  let ctx = null;
  if (device === "gpu") {
    ctx = await acquireDevice({ required: args.device === "gpu" }); // exit 3 when asked for
    if (!ctx) {
      io.err("hopc: note: no WebGPU adapter; running the float64 reference on the cpu");
      device = "cpu";
    } else {
      // Shapes this adapter cannot take (csparsemax: its loop budget, one storage binding).
      const shape = recallGpuUnsupportedOn(ctx, model, opts.mode, X);
      if (shape && args.device === "gpu") throw inputError(memPath, shape, "use --device cpu");
      if (shape) {
        io.err(`hopc: note: ${shape}; running the float64 reference on the cpu`);
        ctx = null;
        device = "cpu";
      }
    }
  }
  let result;
  try {
    result = await recall(model, X, opts, ctx ?? undefined);
  } catch (e) {
    throw rename(e);
  }
  if (args.output) {
    try {
      await writeFileAtomic(args.output, encodeNpy(result.states));
    } catch (e) {
      throw inputError(args.output, `cannot write the file: ${(e as Error).message}`);
    }
  }
  const summary = {
    model: model.name,
    mode: result.mode,
    device: result.device,
    memories: X.rows,
    recalled: result.recalled,
    uniqueRatio: result.uniqueRatio,
    levenshtein: result.levenshtein,
    stopped: result.stopped,
    options: result.options,
  };
  if (args.json) io.out(JSON.stringify(summary, null, 2));
  else {
    io.out(`recalled: ${result.recalled.join(" ")}`);
    io.out(`unique memory ratio: ${result.uniqueRatio.toFixed(4)}`);
    if (result.levenshtein !== null) {
      io.out(`levenshtein coefficient: ${result.levenshtein.toFixed(4)}`);
    }
    if (result.stopped) {
      io.out(`stopped at recall ${result.stopped.recall}: ${result.stopped.reason}`);
    }
  }
  io.err(
    `hopc: ${result.recalled.length} ${result.mode} recall(s) over ${X.rows} memories with model \`${model.name}\` on ${
      result.device === "cpu" ? "cpu (float64 reference)" : "gpu"
    }${args.output ? ` -> ${args.output}` : ""}`,
  );
  return 0;
}
