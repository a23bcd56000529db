// The `hopc` command line (LANGUAGE.md section 3). Exit codes: 0 success, 1 the input is wrong (a
// diagnostic was printed), 2 the command line itself is wrong, 3 no usable WebGPU adapter where one
// was required. Outputs are written only after the whole run succeeded, atomically.
import {
  type Diagnostic,
  formatDiagnostics,
  HopError,
  inputError,
  NoAdapterError,
} from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { checkText } from "../check.ts";
import { parse } from "../../grammar/index.ts";
import { encodeNpy } from "../io/npy.ts";
import { readNpy, writeFileAtomic } from "../io/files.ts";
import { checkShapes, checkValues } from "../shapes.ts";
import { checkExtras, checkGraph, type Extras } from "../extras.ts";
import {
  loadReference,
  prepareMemories,
  type RetrievalOutput,
  retrieveReference,
} from "../reference/interpreter.ts";
import { acquireDevice } from "../runtime/device.ts";
import { load } from "../runtime/retriever.ts";
import { traceOnGpu } from "../runtime/trace.ts";
import { modelFit, type ModelFitOptions } from "../fit/model_fit.ts";
import { decodeFit, encodeFit, isAhopFit, type StoredFit } from "../fit/store.ts";
import { isAhop } from "../parts/similarity/ahop.ts";
import { isLearned } from "../parts/similarity/learned.ts";
import { checkTunable, entryOf, tune, writeTuned } from "../runtime/tune.ts";
import { gpuUnsupported, makePlan } from "../plan/plan.ts";
import { planForAdapter } from "../plan/adapter.ts";
import { generateKernel } from "../wgsl/spec.ts";
import { blockedParts } from "../wgsl/blocked_parts.ts";
import { assemble } from "../runtime/blocked/wgsl.ts";
import { emitModels, runtimeFiles } from "../compile/emit.ts";
import { parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { pickModel } from "../pick_model.ts";
import { bench, BENCH_TOLERANCE, formatBench } from "./bench.ts";
import { createProgress, type Progress, stderrProgress } from "./progress.ts";
import { serve as serveLsp } from "../lsp/server.ts";
import {
  checkRecallOptions,
  recall,
  recallGpuUnsupported,
  recallGpuUnsupportedOn,
  type RecallMode,
  type RecallOptions,
} from "../recall/protocol.ts";

export const USAGE = `hopc: a compiler for associative memories (modern Hopfield networks)

usage:
  hopc check FILE.hop [--json]
  hopc compile FILE.hop [-o DIR]          (default DIR: generated/)
  hopc explain FILE.hop [--model NAME] [--emit ast|ir|plan|wgsl] [--shape M,D] [--set NAME=VALUE]...
  hopc retrieve FILE.hop --memories X.npy --queries Q.npy -o OUT.npy
                [--model NAME] [--set NAME=VALUE]... [--device gpu|cpu]
                [--weights W.npy] [--trace T.json] [--values V.npy] [--clamp C.npy] [--graph A.npy]
                [--fit F.npz] [--save-fit F.npz] [--json]
  hopc tune FILE.hop --shape M,D,B [--model NAME] [--min-time S] [--set NAME=VALUE]... [--json]
                (times every kernel choice on this adapter, caches the fastest; cache file:
                 $HOPC_PLAN_CACHE, else $XDG_CACHE_HOME/hopc/plans.json or ~/.cache/hopc/plans.json)
  hopc bench FILE.hop --shape M,D,B [--model NAME] [--steps N] [--min-time S] [--seed N]
                [--set NAME=VALUE]... [--json]
                (times retrieval on this adapter with random data: median ms per call after a
                 warm-up, GFLOP/s, the plan used; checked once against the float64 reference)
  hopc recall FILE.hop --memories X.npy --mode free|csparsemax|sequential
                [--start-index I | --start Q.npy] [--recalls R] [--gamma G] [--rate RHO]
                [--omega W] [--edge-score E] [--settle N] [--settle-beta B]
                [--model NAME] [--set NAME=VALUE]... [--device gpu|cpu] [-o STATES.npy] [--json]
                (the HFY free / sequential recall protocol over the model: the recalled memory
                 indices, unique memory ratio and Levenshtein coefficient; -o: the state after
                 each recall, R x D)
  hopc lsp                                (a language server for editors, over stdin/stdout)

exit codes: 0 ok, 1 the input is wrong, 2 the command line is wrong, 3 no WebGPU adapter`;

/** Everything a command prints goes through here, so tests can capture it. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Progress of long runs (default: plain lines through `err`). */
  progress?(): Progress;
}

const denoIo: Io = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
  progress: () => stderrProgress(),
};

const progressOf = (io: Io): Progress => io.progress?.() ?? createProgress({ line: io.err });

export async function main(argv: string[], io: Io = denoIo): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`hopc: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args.command === "help") {
    io.out(USAGE);
    return 0;
  }
  if (args.command === "lsp") return await serveLsp(Deno.stdin.readable, Deno.stdout.writable);
  const sources = new Map<string, string>();
  try {
    switch (args.command) {
      case "check": {
        const models = await loadModels(args.file, args.sets, sources);
        io.out(
          args.json
            ? "[]"
            : `${args.file}: ${models.length} model(s) ok: ${models.map((m) => m.name).join(", ")}`,
        );
        return 0;
      }
      case "compile":
        return await compile(args, sources, io);
      case "explain":
        return await explain(args, sources, io);
      case "retrieve":
        return await retrieve(args, sources, io);
      case "tune":
        return await tuneCommand(args, sources, io);
      case "bench":
        return await benchCommand(args, sources, io);
      case "recall":
        return await recallCommand(args, sources, io);
    }
  } catch (e) {
    if (e instanceof HopError) {
      reportDiagnostics(e.diagnostics, sources, args.json, io);
      return 1;
    }
    if (e instanceof NoAdapterError) {
      io.err(`hopc: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

function reportDiagnostics(
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

async function explain(args: ParsedArgs, sources: Map<string, string>, io: Io): Promise<number> {
  const emit = args.emit ?? "ir";
  if (emit === "ast") {
    const text = await Deno.readTextFile(args.file).catch((e) => {
      throw inputError(args.file, `cannot read the file: ${e.message}`);
    });
    sources.set(args.file, text);
    const { ast, diagnostics } = parse(text, args.file);
    if (diagnostics.length > 0) throw new HopError(diagnostics);
    // An unknown --model is an error here as well (pickModel only reads the names).
    if (args.model !== undefined) {
      pickModel(ast.models as unknown as Model[], args.model, args.file);
    }
    const model = args.model === undefined ? ast : {
      ...ast,
      models: ast.models.filter((m: { name: string }) => m.name === args.model),
    };
    io.out(JSON.stringify(model, null, 2));
    return 0;
  }
  const models = await loadModels(args.file, args.sets, sources);
  const chosen = args.model === undefined && models.length > 1
    ? models
    : [pickModel(models, args.model, args.file)];
  if (emit === "ir") {
    io.out(JSON.stringify(chosen.length === 1 ? chosen[0] : chosen, null, 2));
    return 0;
  }
  // plan and wgsl: for the memory shape given (or an example), with this machine's adapter limits
  // when it has one, else WebGPU's defaults.
  const ctx = await acquireDevice({ required: false });
  const shape = args.shape ?? { M: 1024, D: 64 };
  const shown = await Promise.all(chosen.map(async (model) => {
    const unsupported = gpuUnsupported(model);
    if (unsupported) return { model: model.name, gpu: null, reason: unsupported };
    // A plan `hopc tune` cached for this adapter and shape bucket is the one a run would use.
    const plan = await planForAdapter(model, shape, ctx);
    return {
      ...plan,
      why: plan.source === "tuned"
        ? "tuned: the fastest candidate `hopc tune` measured on this adapter for this shape bucket"
        : "rule: the plan's rules for this shape and the adapter's limits (no tuned plan cached)",
      adapter: ctx?.info ?? "none (WebGPU default limits)",
    };
  }));
  if (emit === "wgsl") {
    // The kernels that run at this shape (the blocked ones as planned above).
    io.out(
      shown.map((k, i) => {
        if (!("kernel" in k)) return `// ${k.model}: ${k.reason}`;
        const parts = blockedParts(chosen[i]);
        return k.blocked && parts ? assemble(parts, k.blocked) : generateKernel(chosen[i]);
      }).join("\n"),
    );
  } else io.out(JSON.stringify(shown.length === 1 ? shown[0] : shown, null, 2));
  return 0;
}

async function retrieve(args: ParsedArgs, sources: Map<string, string>, io: Io): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const model = pickModel(models, args.model, args.file);
  const memPath = args.memories!, qPath = args.queries!;
  const X = await readNpy(memPath);
  const Q = await readNpy(qPath);
  const shapes = checkShapes(model, X, Q, { memories: memPath, queries: qPath });
  checkValues(model, X, Q, { memories: memPath, queries: qPath });
  // Values apart from the keys, [M, Dv], and a 0/1 clamp mask, [B, D] or [1, D] (src/extras.ts).
  const extras: Extras = {};
  if (args.values) extras.values = await readNpy(args.values);
  if (args.clamp) extras.clamp = await readNpy(args.clamp);
  // The memory graph [M, M] of `readout project` (CDAM, MATH.md 7.7), read at load.
  if (args.graph) extras.graph = await readNpy(args.graph);
  checkExtras(model, shapes, extras, { values: args.values ?? "", clamp: args.clamp ?? "" });
  checkGraph(model, shapes.M, extras.graph, args.graph ?? "graph");

  // A learned similarity's map: a saved fit (--fit), or fitted at load with progress per epoch.
  const learned = isLearned(model.similarity) || isAhop(model.similarity);
  if (args.saveFit && !learned) {
    throw inputError(
      args.saveFit,
      `model \`${model.name}\` has no learned similarity (it is \`${model.similarity.kind}\`): there is no fit to save`,
      "--save-fit belongs to a model with `similarity uhop(...)`, `kernelized(...)` or `ahop(...)`",
    );
  }
  const given = args.fit ? await readFit(args.fit) : undefined;
  const progress = learned && !given ? progressOf(io) : undefined;
  const fitOptions: ModelFitOptions = {
    fit: given,
    file: args.fit,
    onProgress: progress &&
      ((p) =>
        progress.update(
          `hopc: fitting ${model.similarity.kind}: epoch ${p.epoch}/${p.epochs}, loss ${
            p.loss.toPrecision(6)
          }`,
        )),
  };
  let fit: StoredFit | null = null;

  const perMemory = args.weights !== undefined || args.trace !== undefined;
  const device = await chooseDevice(model, args.device, io, perMemory);
  let result: RetrievalOutput;
  try {
    if (device === "cpu") {
      const wanted = args.weights !== undefined || args.trace !== undefined;
      const loaded = loadReference(model, X, {
        weights: wanted,
        graph: extras.graph,
        ...fitOptions,
      });
      fit = loaded.fit ?? null;
      result = retrieveReference(model, X, Q, loaded, extras);
    } else if (args.trace) {
      // The fit is made once (in the reference's load) and shared with the GPU's.
      const shared = learned && !given
        ? modelFit(model, prepareMemories(model, X), fitOptions) ?? undefined
        : given;
      fit = shared ?? null;
      result = await traceOnGpu(model, X, Q, undefined, extras, { fit: shared, file: args.fit });
    } else {
      const r = await load(model, X, undefined, {}, { graph: extras.graph, ...fitOptions });
      fit = r.fit;
      try {
        const out = await r.retrieve(Q, { weights: args.weights !== undefined, ...extras });
        const cols = out.states.length / Q.rows; // D, or Dv with values
        result = {
          states: { rows: Q.rows, cols, data: Float64Array.from(out.states) },
          weights: {
            rows: Q.rows,
            cols: out.weights ? out.weights.length / Q.rows : 0,
            data: Float64Array.from(out.weights ?? []),
          },
          stepsRun: Array.from(out.stepsRun),
          trace: [],
        };
      } finally {
        r.destroy();
      }
    }
  } finally {
    progress?.done();
  }
  if (fit && !given && progress && isAhopFit(fit)) {
    const l = fit.losses;
    io.err(
      `hopc: fitted ahop on ${fit.fitted} memories (${
        fit.settings.samples * fit.fitted
      } context samples): loss ${l[0]?.toPrecision(6)} -> ${l[l.length - 1]?.toPrecision(6)}, a = ${
        fit.params.a.toPrecision(4)
      }, b = ${fit.params.b.toPrecision(4)}`,
    );
  } else if (fit && !given && progress && !isAhopFit(fit)) {
    const l = fit.result.losses;
    io.err(
      `hopc: fitted ${model.similarity.kind} on ${fit.result.fitted} memories: loss ${
        l[0]?.toPrecision(6)
      } -> ${l[l.length - 1]?.toPrecision(6)}, min separation ${
        fit.result.separation.before.toPrecision(4)
      } -> ${fit.result.separation.after.toPrecision(4)}`,
    );
  }

  // Overflow (huge data times beta) must not pass for a result.
  const bad = result.states.data.findIndex((v) =>
    !Number.isFinite(v) || Math.abs(v) > 3.4028234663852886e38
  );
  if (bad >= 0) {
    throw inputError(
      memPath,
      `retrieval produced a non-finite value (query ${
        Math.floor(bad / result.states.cols)
      }, column ${bad % result.states.cols}): the scores overflow`,
      "scale the memories and queries down, or lower beta",
    );
  }

  // Everything is computed; only now are files written, each atomically, the main output last
  // so that its presence means the run succeeded. A write that fails (a missing directory, ...)
  // is an input error, and the files this run already wrote are removed: no partial output.
  const written: string[] = [];
  const put = async (path: string, bytes: Uint8Array) => {
    try {
      await writeFileAtomic(path, bytes);
    } catch (e) {
      for (const p of written) await Deno.remove(p).catch(() => {});
      throw inputError(path, `cannot write the file: ${(e as Error).message}`);
    }
    written.push(path);
  };
  if (args.weights) await put(args.weights, encodeNpy(result.weights));
  if (args.saveFit && fit) await put(args.saveFit, encodeFit(fit));
  if (args.trace) {
    const trace = {
      model: model.name,
      device,
      steps: result.trace,
      stepsRun: result.stepsRun,
    };
    await put(args.trace, new TextEncoder().encode(JSON.stringify(trace, null, 2) + "\n"));
  }
  await put(args.output!, encodeNpy(result.states));
  io.err(
    `hopc: retrieved ${Q.rows} queries with model \`${model.name}\` on ${
      device === "cpu" ? "cpu (float64 reference)" : "gpu"
    } -> ${args.output}`,
  );
  return 0;
}

/**
 * `--device gpu` needs an adapter (exit 3 without one) and a model with a GPU lowering; with no
 * `--device`, the GPU is used where both exist, else the float64 reference, with a note.
 */
async function chooseDevice(
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

/** `hopc recall`: the free / sequential recall protocol (src/recall/protocol.ts). */
async function recallCommand(
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

/** `hopc tune`: time every candidate on this adapter at one shape; cache the fastest. */
async function tuneCommand(
  args: ParsedArgs,
  sources: Map<string, string>,
  io: Io,
): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const model = pickModel(models, args.model, args.file);
  checkTunable(model); // features and quadrature models: "nothing to tune" (exit 1)
  const { M, D, B } = args.shape as { M: number; D: number; B: number };
  const ctx = await acquireDevice(); // NoAdapterError: exit 3
  const progress = progressOf(io);
  const result = await tune(model, { M, D, B }, ctx, {
    minTime: args.minTime,
    log: (line) => progress.line(`hopc: tune: ${line}`),
    status: (text) => progress.update(`hopc: tune: ${text}`),
  }).finally(() => progress.done());
  let path: string;
  try {
    path = await writeTuned(result.key, entryOf(result));
  } catch (e) {
    throw inputError("plan cache", `cannot write the plan cache: ${(e as Error).message}`);
  }
  if (args.json) {
    io.out(JSON.stringify({ ...result, cache: path }, null, 2));
    return 0;
  }
  const steps = model.steps.kind === "fixed" ? model.steps.count : model.steps.max;
  const width = Math.max(...result.results.map((r) => r.label.length));
  io.out(
    `model \`${model.name}\` at M = ${M}, D = ${D}, B = ${B}, ${steps} step(s) on ${ctx.info}`,
  );
  io.out(`  ${"candidate".padEnd(width)}  ${"ms".padStart(10)}  ${"GFLOP/s".padStart(8)}  error`);
  for (const r of result.results) {
    const err = r.error === null ? "-" : r.error.toExponential(1);
    if (r.ms === null) {
      io.out(
        `  ${r.label.padEnd(width)}  ${"-".padStart(10)}  ${
          "-".padStart(8)
        }  ${err}  rejected: ${r.rejected}`,
      );
      continue;
    }
    const gflops = (4 * M * D * B * steps) / r.ms / 1e6;
    io.out(
      `  ${r.label.padEnd(width)}  ${r.ms.toFixed(3).padStart(10)}  ${
        gflops.toFixed(2).padStart(8)
      }  ${err}`,
    );
  }
  io.out(`winner: ${result.winner.label} (${result.winner.ms.toFixed(3)} ms)`);
  io.err(`hopc: tuned plan for \`${model.name}\` written to ${path} (key ${result.key})`);
  return 0;
}

/** `hopc bench`: time the model's retrieval at one shape; exit 1 if it disagrees with the reference. */
async function benchCommand(
  args: ParsedArgs,
  sources: Map<string, string>,
  io: Io,
): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const model = pickModel(models, args.model, args.file);
  const shape = args.shape as { M: number; D: number; B: number };
  // A model without a GPU lowering, or a shape the model cannot take (a top-k K over M), is an
  // input error here (the diagnostic names it), before the adapter is looked for.
  makePlan(model, shape);
  checkShapes(model, { rows: shape.M, cols: shape.D }, { rows: shape.B, cols: shape.D });
  const ctx = await acquireDevice(); // NoAdapterError: exit 3
  const result = await bench(model, ctx, {
    shape,
    minTime: args.minTime,
    steps: args.steps,
    seed: args.seed,
  }, progressOf(io));
  if (args.json) io.out(JSON.stringify(result, null, 2));
  else for (const line of formatBench(result)) io.out(line);
  if (!result.ok) {
    io.err(
      `hopc: bench: model \`${model.name}\`: the GPU states differ from the float64 reference by ${
        result.error.toExponential(2)
      } (relative), over the tolerance ${BENCH_TOLERANCE}: the timing is of a wrong result`,
    );
    return 1;
  }
  return 0;
}

/** `hopc compile`: every file is computed first, then written, so a failure writes nothing. */
async function compile(args: ParsedArgs, sources: Map<string, string>, io: Io): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const outDir = args.outDir ?? "generated";
  const { files, skipped } = emitModels(models, args.file);
  const runtime = await runtimeFiles();
  if (files.size > 0) { for (const [name, text] of runtime) files.set(name, text); }
  await Deno.mkdir(`${outDir}/blocked`, { recursive: true });
  for (const [name, text] of files) {
    await writeFileAtomic(`${outDir}/${name}`, new TextEncoder().encode(text));
  }
  for (const s of skipped) io.err(`hopc: note: model \`${s.model}\` not compiled: ${s.reason}`);
  const written = [...files.keys()].filter((f) => !runtime.has(f)).length;
  io.err(
    `hopc: ${args.file}: wrote ${written} files for ${
      models.length - skipped.length
    } model(s) to ${outDir}/`,
  );
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

/** A saved fit (`--fit F.npz`), with errors naming the file. */
async function readFit(path: string): Promise<StoredFit> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw inputError(path, `cannot read the fit: ${(e as Error).message}`);
  }
  return decodeFit(bytes, path);
}
