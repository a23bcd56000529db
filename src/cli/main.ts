// The `hopc` command line (LANGUAGE.md section 3). Exit codes: 0 success, 1 the input is wrong (a
// diagnostic was printed), 2 the command line itself is wrong, 3 no usable WebGPU adapter where one
// was required. Outputs are written only after the whole run succeeded, atomically.
import { type Diagnostic, formatDiagnostics, HopError, NoAdapterError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import { checkText } from "../check.ts";
import { parse } from "../../grammar/index.ts";
import { encodeNpy, readNpy, writeFileAtomic } from "../io/npy.ts";
import { checkShapes } from "../shapes.ts";
import { retrieveReference } from "../reference/interpreter.ts";
import { parseArgs, type ParsedArgs, UsageError } from "./args.ts";

export const USAGE = `hopc: a compiler for associative memories (modern Hopfield networks)

usage:
  hopc check FILE.hop [--json]
  hopc explain FILE.hop [--model NAME] [--emit ast|ir] [--set NAME=VALUE]...
  hopc retrieve FILE.hop --memories X.npy --queries Q.npy -o OUT.npy
                [--model NAME] [--set NAME=VALUE]... [--device gpu|cpu]
                [--weights W.npy] [--trace T.json] [--json]

exit codes: 0 ok, 1 the input is wrong, 2 the command line is wrong, 3 no WebGPU adapter`;

/** Everything a command prints goes through here, so tests can capture it. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const denoIo: Io = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

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
      case "explain":
        return await explain(args, sources, io);
      case "retrieve":
        return await retrieve(args, sources, io);
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
    throw new HopError([{
      file,
      line: 1,
      col: 1,
      length: 1,
      severity: "error",
      message: `cannot read the file: ${(e as Error).message}`,
    }]);
  }
  sources.set(file, text);
  const { models, diagnostics } = checkText(text, file, sets);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new HopError(diagnostics);
  return models;
}

function pickModel(models: Model[], name: string | undefined, file: string): Model {
  if (name === undefined) {
    if (models.length === 1) return models[0];
    throw new HopError([{
      file,
      line: 1,
      col: 1,
      length: 1,
      severity: "error",
      message: models.length === 0
        ? "the file defines no model"
        : `the file defines ${models.length} models (${
          models.map((m) => m.name).join(", ")
        }): choose one with --model NAME`,
    }]);
  }
  const found = models.find((m) => m.name === name);
  if (found) return found;
  throw new HopError([{
    file,
    line: 1,
    col: 1,
    length: 1,
    severity: "error",
    message: `no model named \`${name}\` in this file (it defines ${
      models.map((m) => m.name).join(", ")
    })`,
  }]);
}

async function explain(args: ParsedArgs, sources: Map<string, string>, io: Io): Promise<number> {
  const emit = args.emit ?? "ir";
  if (emit === "ast") {
    const text = await Deno.readTextFile(args.file).catch((e) => {
      throw new HopError([{
        file: args.file,
        line: 1,
        col: 1,
        length: 1,
        severity: "error",
        message: `cannot read the file: ${e.message}`,
      }]);
    });
    sources.set(args.file, text);
    const { ast, diagnostics } = parse(text, args.file);
    if (diagnostics.length > 0) throw new HopError(diagnostics);
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
  throw new Error(`unreachable: --emit ${emit}`);
}

async function retrieve(args: ParsedArgs, sources: Map<string, string>, io: Io): Promise<number> {
  const models = await loadModels(args.file, args.sets, sources);
  const model = pickModel(models, args.model, args.file);
  const memPath = args.memories!, qPath = args.queries!;
  const X = await readNpy(memPath);
  const Q = await readNpy(qPath);
  checkShapes(model, X, Q, { memories: memPath, queries: qPath });

  const result = retrieveReference(model, X, Q);

  // Everything is computed; only now are files written, each atomically, the main output last
  // so that its presence means the run succeeded.
  if (args.weights) await writeFileAtomic(args.weights, encodeNpy(result.weights));
  if (args.trace) {
    const trace = {
      model: model.name,
      device: "cpu",
      steps: result.trace,
      stepsRun: result.stepsRun,
    };
    await writeFileAtomic(
      args.trace,
      new TextEncoder().encode(JSON.stringify(trace, null, 2) + "\n"),
    );
  }
  await writeFileAtomic(args.output!, encodeNpy(result.states));
  io.err(
    `hopc: retrieved ${Q.rows} queries with model \`${model.name}\` on cpu (float64 reference) -> ${args.output}`,
  );
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
