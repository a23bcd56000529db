// `hopc retrieve`: retrieval of a batch of queries on the GPU or the float64 reference, with the
// extras (values, clamp, graph), a learned similarity's fit, weights and a per-step trace.
import { inputError } from "../diagnostics.ts";
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
import { load } from "../runtime/retriever.ts";
import { traceOnGpu } from "../runtime/trace.ts";
import { modelFit, type ModelFitOptions } from "../fit/model_fit.ts";
import { encodeFit, isAhopFit, type StoredFit } from "../fit/store.ts";
import { isAhop } from "../parts/similarity/ahop.ts";
import { isLearned } from "../parts/similarity/learned.ts";
import type { ParsedArgs } from "./args.ts";
import { pickModel } from "../pick_model.ts";
import { chooseDevice, type Io, loadModels, progressOf, readFit } from "./io.ts";

export async function retrieve(
  args: ParsedArgs,
  sources: Map<string, string>,
  io: Io,
): Promise<number> {
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
