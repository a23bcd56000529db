// The `hopc` command line (LANGUAGE.md section 3). Exit codes: 0 success, 1 the input is wrong (a
// diagnostic was printed), 2 the command line itself is wrong, 3 no usable WebGPU adapter where one
// was required. Outputs are written only after the whole run succeeded, atomically.
import { HopError, inputError, NoAdapterError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { parse } from "../../grammar/index.ts";
import { writeFileAtomic } from "../io/files.ts";
import { checkShapes } from "../shapes.ts";
import { acquireDevice } from "../runtime/device.ts";
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
import { serve as serveLsp } from "../lsp/server.ts";
import { denoIo, type Io, loadModels, progressOf, reportDiagnostics } from "./io.ts";
import { retrieve } from "./retrieve.ts";
import { recallCommand } from "./recall.ts";

export { type Io, loadModels };

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
