// The library's runs: a checked model bound to memories on a WebGPU device (`load`, then
// `retrieve` as often as wanted), and the float64 reference on the same inputs. Pipelines are
// cached per device by their WGSL text (src/runtime/standalone.ts, src/runtime/blocked/run.ts), so
// a sweep that loads models and data one after another on one device compiles each distinct kernel
// once; `compileStats` counts what was compiled.
import type { Model } from "../ir.ts";
import type { Plan } from "../plan/plan.ts";
import { planForAdapter } from "../plan/adapter.ts";
import { checkShapes } from "../shapes.ts";
import {
  loadReference,
  type RetrievalOutput,
  retrieveReference,
} from "../reference/interpreter.ts";
import { describeAdapter, type GpuContext, LIMIT_NAMES } from "../runtime/device.ts";
import type { DeviceLimits } from "../runtime/device.ts";
import { load as loadRuntime, type RunContext } from "../runtime/retriever.ts";
import { checkExtras } from "../extras.ts";
import type { StoredFit } from "../fit/store.ts";
import type { FitProgress } from "../fit/fit.ts";
import { pipelineStats } from "../runtime/standalone.ts";
import { blockedStats } from "../runtime/blocked/run.ts";
import type { CompiledModel } from "./compile.ts";
import { type Matrix, toMat } from "./matrix.ts";

/** A model: the IR, or a {@link CompiledModel} from compile(). */
export type ModelLike = Model | CompiledModel;

/** Where to run: hopc's GpuContext (acquireDevice) or any GPUDevice of the caller's. */
export type Gpu = GpuContext | GPUDevice;

const irOf = (m: ModelLike): Model => "ir" in m ? m.ir : m;

/**
 * The context hopc plans with for a GPUDevice the caller made: its granted limits, and the adapter
 * named by `adapter` or the device's `adapterInfo` (the name picks the loop budget: Mesa's
 * llvmpipe silently ends loops past 65,535 iterations, so it must be recognised).
 */
export function gpuContext(device: GPUDevice, adapter?: GPUAdapter): RunContext {
  const info = adapter?.info ?? (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const limits = {} as DeviceLimits;
  for (const name of LIMIT_NAMES) limits[name] = device.limits[name];
  return { device, info: info ? describeAdapter(info) : "unknown adapter", limits };
}

export function runContext(gpu: Gpu): RunContext {
  return "device" in gpu && "limits" in gpu && "info" in gpu && typeof gpu.info === "string"
    ? gpu
    : gpuContext(gpu as GPUDevice);
}

/** Options of {@link load}. */
export interface LoadOptions {
  /** Queries per retrieve call the caller expects: picks a tuned plan's bucket (default 64). */
  batch?: number;
  /**
   * Values apart from the keys, M x Dv (hetero-association): the states iterate over the
   * memories (the keys) and each retrieve returns V^T p of the final weights, B x Dv.
   */
  values?: Matrix;
  /**
   * The memory graph's adjacency, M x M, entries >= 0 ([i, j]: the edge from memory i to memory
   * j), for a model with `readout project(h != 0)` (CDAM): normalized once at load to
   * D^-1/2 A D^-1/2, from which the readout rows a X + h H^T X - c mean(X) are computed.
   */
  graph?: Matrix;
  /**
   * A learned similarity's (uhop, kernelized) saved fit, used instead of fitting at load:
   * `retriever.fit` of an earlier load, or `decodeFit` of a file `hopc retrieve --save-fit`
   * wrote. Checked against the model's similarity settings and D.
   */
  fit?: StoredFit;
  /** Called once per epoch while a learned similarity is fitted at load. */
  onFitProgress?: (p: FitProgress) => void;
}

/** What a retrieve call returns. */
export interface Retrieved {
  /** Final states, B x D, float32 (B x Dv: the values' readout, when the load had values). */
  states: Matrix & { data: Float32Array };
  /** Final weights, B x M (B x functions for continuous memory), when asked for. */
  weights?: Matrix & { data: Float32Array };
  /** Steps each query ran (fixed steps, or until it converged). */
  stepsRun: Uint32Array;
}

/** A model bound to its memories on one device. */
export interface Retriever {
  readonly model: Model;
  /** The plan it runs (rules or tuned) at its memories' shape. */
  readonly plan: Plan;
  /** The WGSL that runs. */
  readonly code: string;
  /** Bytes its memories occupy on the device. */
  readonly deviceBytes: number;
  readonly shapes: { M: number; D: number };
  /**
   * The fit of a learned similarity (uhop, kernelized), made at this load or the one given;
   * null for other models. `encodeFit(retriever.fit)` gives the bytes of a `.npz` to save.
   */
  readonly fit: StoredFit | null;
  /**
   * Retrieve B queries (B x D): every step of every query in one submission, one readback.
   * `weights: true` also reads the final weights back; `clamp` (B x D or 1 x D of 0/1) keeps
   * the dims marked 1 at the queries' values after every step (pattern completion). Throws a
   * HopError for a wrong shape or mask.
   */
  retrieve(queries: Matrix, options?: { weights?: boolean; clamp?: Matrix }): Promise<Retrieved>;
  /** Free the memories' GPU buffers (the compiled pipelines stay cached for the device). */
  destroy(): void;
}

/**
 * Bind `model` to `memories` (M x D) on `gpu`: memories prepared and uploaded once, pipelines
 * compiled on first use per device and reused by every later load of the same kernel. Throws a
 * HopError when the model has no GPU lowering or the memories do not fit the adapter.
 */
export async function load(
  gpu: Gpu,
  model: ModelLike,
  memories: Matrix,
  options: LoadOptions = {},
): Promise<Retriever> {
  const ir = irOf(model);
  const ctx = runContext(gpu);
  const X = toMat(memories, "memories");
  // The memories' own rules (M at least a top-k's K, ...) now, with a stand-in for the queries.
  checkShapes(ir, X, { rows: 1, cols: X.cols });
  const values = options.values ? toMat(options.values, "values") : undefined;
  if (values) checkExtras(ir, { M: X.rows, D: X.cols, B: 1 }, { values });
  const graph = options.graph ? toMat(options.graph, "graph") : undefined;
  const r = await loadRuntime(ir, X, ctx, { batchHint: options.batch }, {
    graph,
    fit: options.fit,
    onProgress: options.onFitProgress,
  });
  const plan = await planForAdapter(ir, { M: X.rows, D: X.cols }, ctx, options.batch);
  return {
    model: ir,
    plan,
    code: r.code,
    deviceBytes: r.deviceBytes,
    shapes: r.shapes,
    fit: r.fit,
    async retrieve(queries, opts = {}) {
      const Q = toMat(queries, "queries");
      const clamp = opts.clamp ? toMat(opts.clamp, "clamp") : undefined;
      const out = await r.retrieve(Q, { weights: opts.weights === true, values, clamp });
      const B = Q.rows;
      return {
        states: { rows: B, cols: out.states.length / B, data: out.states },
        ...(out.weights
          ? { weights: { rows: B, cols: B > 0 ? out.weights.length / B : 0, data: out.weights } }
          : {}),
        stepsRun: out.stepsRun,
      };
    },
    destroy: () => r.destroy(),
  };
}

/**
 * The float64 reference interpreter: the final states (B x D), weights and steps of `model` on
 * `memories` (M x D) and `queries` (B x D), computed on the CPU; what every GPU path is tested
 * against. The result's `trace` holds the energy, state change and support of every step.
 * `weights: false` lets a features model skip forming one weight per memory (M x F work);
 * `values`, `graph` and `clamp` as in {@link load} and its retrieve.
 */
export function reference(
  model: ModelLike,
  memories: Matrix,
  queries: Matrix,
  options: {
    weights?: boolean;
    values?: Matrix;
    clamp?: Matrix;
    graph?: Matrix;
    /** A learned similarity's saved fit (see {@link LoadOptions}); else it is fitted here. */
    fit?: StoredFit;
    onFitProgress?: (p: FitProgress) => void;
  } = {},
): RetrievalOutput & { fit: StoredFit | null } {
  const ir = irOf(model);
  const X = toMat(memories, "memories"), Q = toMat(queries, "queries");
  const shapes = checkShapes(ir, X, Q);
  const extras = {
    values: options.values ? toMat(options.values, "values") : undefined,
    clamp: options.clamp ? toMat(options.clamp, "clamp") : undefined,
    graph: options.graph ? toMat(options.graph, "graph") : undefined,
  };
  checkExtras(ir, shapes, extras);
  const loaded = loadReference(ir, X, {
    weights: options.weights ?? true,
    graph: extras.graph,
    fit: options.fit,
    onProgress: options.onFitProgress,
  });
  return { ...retrieveReference(ir, X, Q, loaded, extras), fit: loaded.fit ?? null };
}

/**
 * Pipelines compiled (`builds`: one shader module each) and reused (`hits`) by this process so
 * far, over every device. A sweep that reloads the same kernel should add hits, not builds.
 */
export function compileStats(): { builds: number; hits: number } {
  return {
    builds: pipelineStats.builds + blockedStats.builds,
    hits: pipelineStats.hits + blockedStats.hits,
  };
}
