// hopc runtime: runs one compiled retrieval kernel on a GPUDevice, in Deno or a browser.
//
// This file is self-contained on purpose (it imports only ./hopc_host.ts, its host-side fits):
// `hopc compile` copies both beside the generated modules, and the compiler's own runtime uses this
// same code, so what a generated module runs is exactly what the tests check.
//
// A kernel's WGSL depends only on its model. Everything that depends on the data's shapes (M, D)
// and the adapter's limits is planned here at load time and passed to the pipeline as override
// constants (workgroup size, vec4 chunks per state, tile rows, ...) or as uniforms (M, D, B).
//
// Usage:
//   const r = await Retrieval.load(device, kernel, X, M, D);   // memories uploaded once
//   const { states } = await r.retrieve(Q, B);                // one submission, one readback

import {
  ahopAux,
  type HostPrep,
  hostRows,
  learnedKeys,
  normalizeGraph,
  projectRows,
  type ProjectSpec,
} from "./hopc_host.ts";
import type { AuxKind, BlockedParts, BlockedPlan } from "./blocked/types.ts";
import { type BlockedChoices, planBlocked, PlanError } from "./blocked/plan.ts";
import {
  BlockedRetrieval,
  checkedModule,
  padRows as padChunks,
  type RetrieveOptions,
} from "./blocked/run.ts";

export type { BlockedChoices, BlockedParts, BlockedPlan, HostPrep, RetrieveOptions };
export { BlockedRetrieval };

/** What the runtime needs to know about a compiled model (emitted by `hopc compile`). */
export interface KernelSpec {
  name: string;
  wgsl: string;
  /**
   * online: softmax-like maps in one pass; threshold: a kept score row and a threshold search;
   * features: kernel retrieval over [W; KV] rows; quadrature: a density over sample points of a
   * continuous memory's coefficient rows.
   */
  family: "online" | "threshold" | "features" | "quadrature";
  /**
   * Per-row number the similarity needs: computed on the GPU at load (see AuxKind), or
   * given by the host at load (`host`: the features' ksum, the continuous signal's norms).
   */
  memoryAux: AuxKind | "host";
  /** Scratch floats per query beyond M (the quadrature family keeps its points' masses there). */
  rowExtra?: number;
  /**
   * The kernel reads rows prepared on the host from the memories (a continuous memory's fitted
   * coefficients, the features' [W; KV]): `load` takes the raw memories and prepares them.
   */
  hostPrep?: HostPrep;
  /** Memories (at load) and queries (before step 1) pass through the post-transform. */
  transformsInputs: boolean;
  mask: "none" | "topk" | "random";
  /** The smallest M the model accepts (its top-k K or k-subsets k). */
  minMemories: number;
  /**
   * The model's math for the query-blocked kernels (online and threshold families): with it,
   * `load` plans and assembles those kernels for the shapes and adapter at hand; `wgsl` above
   * is then the one-workgroup-per-query kernel, a plan choice (`kernel: "workgroup"`).
   */
  blocked?: BlockedParts;
  /** The similarity reads memories and queries as distributions (kl, js, normalized_dot, ...). */
  nonNegativeInputs?: boolean;
  /** Why `wgsl` holds no one-workgroup-per-query kernel (separations: blocked kernels only). */
  workgroupUnsupported?: string;
  /**
   * `readout project(a, h, c)` (CDAM, MATH.md 7.7): `load` computes the readout rows
   * a X + h H^T X - c mean(X) on the host in float64 from the (post-transformed) memories and
   * the graph (opts.graph when h != 0), and the blocked kernels read each next state from them.
   */
  readout?: ProjectSpec;
  /**
   * A learned similarity (uhop, kernelized; issue 12): `load` needs its fitted map phi(x) = W x + b
   * (opts.fit) and scores with the key rows K_i = W^T phi(x_i) and biases c_i = phi(x_i) . b
   * (hopc_host.ts learnedKeys), reading out the memories. `features`: F, null for D (uhop).
   */
  learned?: { kind: string; features: number | null; bias: boolean };
  /**
   * A-Hop's adaptive similarity (issue 12): `load` needs its fit (opts.fit: { w, a, b }, w of D
   * numbers) and the blocked kernels score with their footprint pass, reading the suffix sums of
   * w and a, b as host aux (hopc_host.ts ahopAux).
   */
  footprint?: boolean;
}

/** A non-finite entry, or a negative one where the similarity needs non-negative input. */
function checkInput(
  kernel: KernelSpec,
  what: "memories" | "queries",
  data: ArrayLike<number>,
  D: number,
  nonNegative: boolean,
): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v) && !(nonNegative && v < 0)) continue;
    const where = `row ${Math.floor(i / D)}, column ${i % D} (index ${i})`;
    throw new RangeError(
      Number.isFinite(v)
        ? `model \`${kernel.name}\` needs non-negative ${what}: the entry at ${where} is ${v}`
        : `${what} must be finite numbers: the entry at ${where} is ${v}`,
    );
  }
}

/**
 * A result with a non-finite entry is an error, never an answer: float32 overflow (a separation
 * model whose state grows past 3.4e38 under the identity post, values read with such weights)
 * would otherwise come back as Inf or NaN that looks like data.
 */
function checkOutput(kernel: KernelSpec, result: RetrieveResult, B: number): RetrieveResult {
  for (const [what, data] of [["states", result.states], ["weights", result.weights]] as const) {
    if (!data) continue;
    const width = data.length / B;
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad < 0) continue;
    throw new RangeError(
      `model \`${kernel.name}\`: the GPU's ${what} of query ${Math.floor(bad / width)} hold ${
        data[bad]
      } at entry ${bad % width}: the values overflowed float32 (past 3.4e38); ` +
        "run it with --device cpu (the float64 reference), or bound the state (post tanh or l2, normalize = sum)",
    );
  }
  return result;
}

/** The adapter limits a plan depends on (names as in GPUSupportedLimits). */
export interface PlanLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupsPerDimension: number;
}

/** Shape-dependent choices, passed to the pipeline as override constants. */
export interface ShapePlan {
  /** Which kernel family these constants are for (it decides which overrides exist). */
  family: KernelSpec["family"];
  /** Threads per workgroup (one workgroup per query). */
  workgroupSize: number;
  /** D rounded up to a multiple of 4: states and memories are vec4<f32> rows. */
  paddedDim: number;
  /** Rows of X staged through workgroup memory at a time (each read once per step). */
  tileRows: number;
  /** Threads sharing one row's dot product in the score pass. */
  lanes: number;
  /** Row groups splitting the readout's rows (each thread owns chunks of one group). */
  groups: number;
  /** Where a query's score row lives (threshold family). */
  scores: "workgroup" | "storage" | "none";
  /** Length of the workgroup score row (1 when the row is in storage). */
  rowCapacity: number;
  /** Bytes of workgroup memory the kernel declares with these constants. */
  workgroupBytes: number;
  notes: string[];
}

/** The data does not fit this adapter (a message for people, naming the limit). */
export { PlanError };

const F32 = 4, VEC4 = 16;

/** Some drivers (Mesa's GL backend) reserve a few bytes of workgroup memory: keep 256 spare. */
const DRIVER_RESERVE = 256;

export function planShapes(
  kernel: Pick<KernelSpec, "family" | "mask">,
  M: number,
  D: number,
  limits: PlanLimits,
): ShapePlan {
  const notes: string[] = [];
  // Workgroup size: as many threads as the adapter allows, up to 256, a power of two so tree
  // reductions halve evenly.
  const maxThreads = Math.min(
    limits.maxComputeInvocationsPerWorkgroup,
    limits.maxComputeWorkgroupSizeX,
    256,
  );
  let wg = 1;
  while (wg * 2 <= maxThreads) wg *= 2;

  const paddedDim = Math.ceil(D / 4) * 4;
  const d4 = paddedDim / 4;
  const groups = Math.floor(wg / Math.min(d4, wg));
  const budget = limits.maxComputeWorkgroupStorageSize - DRIVER_RESERVE;
  if (kernel.family === "features" || kernel.family === "quadrature") {
    // State, readout and readout partials in workgroup memory; the per-query rows (projections,
    // point masses) in the scratch buffer.
    const bytes = 2 * d4 * VEC4 + groups * d4 * VEC4 + wg * F32;
    if (bytes > budget) {
      throw new PlanError(
        `dimension D = ${D} needs ${bytes} bytes of workgroup memory, over this adapter's ${
          budget + DRIVER_RESERVE
        }`,
        "use --device cpu (the float64 reference) for vectors this long",
      );
    }
    notes.push(
      kernel.family === "features"
        ? "kernel retrieval: features of the state from the W rows, readout from the KV rows; cost independent of the number of memories"
        : "quadrature: projections r = B q, the density at the sample points, E[psi], readout B^T E[psi]",
    );
    return {
      family: kernel.family,
      workgroupSize: wg,
      paddedDim,
      tileRows: 1,
      lanes: 1,
      groups,
      scores: "storage",
      rowCapacity: 1,
      workgroupBytes: bytes,
      notes,
    };
  }
  // Workgroup arrays, exactly as the kernel declares them.
  const fixed = 2 * d4 * VEC4 + // state q, readout o
    groups * d4 * VEC4 + // readout accumulators, one slot per (row group, chunk)
    2 * wg * F32 + // partial dot products, reductions
    (kernel.family === "online" ? 2 * groups * F32 + 2 * F32 : 0) + // per-group running max and sum
    (kernel.mask !== "none" ? wg * F32 : 0); // u32 reductions of the masks
  const perTileRow = d4 * VEC4 + F32;
  if (fixed + perTileRow > budget) {
    throw new PlanError(
      `dimension D = ${D} needs ${
        fixed + perTileRow
      } bytes of workgroup memory, over this adapter's ${budget + DRIVER_RESERVE}`,
      "use --device cpu (the float64 reference) for vectors this long",
    );
  }
  // Tile rows: at most one per thread; the threshold family keeps half of what is left for the row.
  const left = budget - fixed;
  const tileRows = Math.max(
    1,
    Math.min(wg, Math.floor((kernel.family === "threshold" ? left / 2 : left) / perTileRow)),
  );
  if (tileRows < 4) notes.push(`D = ${D} is large: only ${tileRows} row(s) of X fit in a tile`);
  let workgroupBytes = fixed + tileRows * perTileRow;

  let scores: ShapePlan["scores"] = "none";
  let rowCapacity = 1;
  if (kernel.family === "threshold") {
    const capacity = Math.floor((budget - workgroupBytes) / F32);
    if (M <= capacity) {
      scores = "workgroup";
      rowCapacity = capacity; // declared at capacity: every M up to it shares this pipeline
      notes.push(`score row in workgroup memory (M = ${M} <= ${capacity})`);
    } else {
      scores = "storage";
      notes.push(
        `score row in a storage scratch buffer (M = ${M} > ${capacity} fits no workgroup)`,
      );
    }
    workgroupBytes += rowCapacity * F32;
  } else {
    notes.push(
      "online softmax: scores and readout in one pass over each X tile, running max per row group",
    );
  }
  return {
    family: kernel.family,
    workgroupSize: wg,
    paddedDim,
    tileRows,
    lanes: Math.max(1, Math.floor(wg / tileRows)),
    groups,
    scores,
    rowCapacity,
    workgroupBytes,
    notes,
  };
}

/** The pipeline's override constants for a plan (names as declared in the WGSL). */
export function overrideConstants(plan: ShapePlan): Record<string, number> {
  const d4 = plan.paddedDim / 4;
  if (plan.family === "features" || plan.family === "quadrature") {
    return {
      WG: plan.workgroupSize,
      D4: d4,
      CH: Math.min(d4, plan.workgroupSize),
      GROUPS: plan.groups,
    };
  }
  return {
    WG: plan.workgroupSize,
    D4: d4,
    TILE: plan.tileRows,
    LANES: plan.lanes,
    CH: Math.min(d4, plan.workgroupSize),
    GROUPS: plan.groups,
    // Only the threshold family declares a score row.
    ...(plan.scores === "none" ? {} : {
      ROW_CAPACITY: plan.rowCapacity,
      ROW_IN_WORKGROUP: plan.scores === "workgroup" ? 1 : 0,
    }),
  };
}

/** Binding indices of the kernel (the WGSL declares the same). */
export const BINDINGS = {
  shape: 0,
  memories: 1,
  memoryAux: 2,
  queries: 3,
  states: 4,
  weights: 5,
  scratch: 6,
  stepsRun: 7,
} as const;

function layoutEntries(): GPUBindGroupLayoutEntry[] {
  const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type },
  });
  return [
    entry(BINDINGS.shape, "uniform"),
    entry(BINDINGS.memories, "read-only-storage"),
    entry(BINDINGS.memoryAux, "read-only-storage"),
    entry(BINDINGS.queries, "read-only-storage"),
    entry(BINDINGS.states, "storage"),
    entry(BINDINGS.weights, "storage"),
    entry(BINDINGS.scratch, "storage"),
    entry(BINDINGS.stepsRun, "storage"),
  ];
}

interface Compiled {
  layout: GPUBindGroupLayout;
  main: GPUComputePipeline;
  prepare: GPUComputePipeline;
}

// Pipelines per device, keyed by the WGSL text and the override constants: a second load of the
// same model at compatible shapes compiles nothing.
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();
export const pipelineStats = { builds: 0, hits: 0 };

function compile(
  device: GPUDevice,
  kernel: KernelSpec,
  constants: Record<string, number>,
): Promise<Compiled> {
  let perDevice = pipelineCache.get(device);
  if (!perDevice) pipelineCache.set(device, perDevice = new Map());
  const key = JSON.stringify(constants) + "\n" + kernel.wgsl;
  const hit = perDevice.get(key);
  if (hit) {
    pipelineStats.hits++;
    return hit;
  }
  pipelineStats.builds++;
  const build = (async () => {
    const module = await checkedModule(device, kernel.name, kernel.wgsl);
    const layout = device.createBindGroupLayout({
      label: "hopc retrieval",
      entries: layoutEntries(),
    });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const make = (entryPoint: string) =>
      device.createComputePipelineAsync({
        label: `hopc ${kernel.name} ${entryPoint}`,
        layout: pipelineLayout,
        compute: { module, entryPoint, constants },
      });
    const [main, prepare] = await Promise.all([make("main"), make("prepare")]);
    const internal = await device.popErrorScope();
    const validation = await device.popErrorScope();
    const error = validation ?? internal;
    if (error) {
      throw new Error(
        `the pipeline of model \`${kernel.name}\` was rejected: ${
          error.message || "(the driver gave no message)"
        }`,
      );
    }
    return { layout, main, prepare };
  })();
  perDevice.set(key, build);
  build.catch(() => perDevice.delete(key));
  return build;
}

/** Bytes of M memory rows padded to paddedDim, refused past one storage binding. */
function memoryBytes(M: number, D: number, paddedDim: number, limits: PlanLimits): number {
  const bytes = M * paddedDim * 4;
  if (bytes > limits.maxStorageBufferBindingSize) {
    throw new PlanError(
      `the memories need ${bytes} bytes on the GPU (M = ${M}, D = ${D}), over this adapter's storage binding limit of ${limits.maxStorageBufferBindingSize} bytes`,
      "split the memories into several models, or use --device cpu",
    );
  }
  return bytes;
}

/** Rows of the kernel's memory after host preparation (the plan depends on it). */
function preparedRowCount(prep: HostPrep, D: number): number {
  if (prep.kind === "continuous") return prep.spec.functions;
  return prep.spec.map === "elu" ? D : 2 * prep.spec.count;
}

/**
 * Runs the kernel's `prepare` entry point over the M rows of `raw`: each row post-transformed
 * (when `transform`) into `prepared`, and its norm (or half squared norm) into `aux`.
 */
function prepareRows(
  device: GPUDevice,
  compiled: Compiled,
  uniform: GPUBuffer,
  raw: GPUBuffer,
  M: number,
  D: number,
  opts: { transform: boolean; maxX: number },
): { prepared: GPUBuffer; aux: GPUBuffer } {
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const prepared = device.createBuffer({
    label: "hopc prepared memories",
    size: raw.size,
    usage: storage,
  });
  const aux = device.createBuffer({
    label: "hopc memory aux",
    size: Math.max(16, M * 4),
    usage: storage,
  });
  const dummy = (label: string) => device.createBuffer({ label, size: 16, usage: storage });
  const unused = [dummy("unused"), dummy("unused"), dummy("unused"), dummy("unused")];
  device.queue.writeBuffer(
    uniform,
    0,
    new Uint32Array([M, D, M, 1, 0, M, opts.transform ? 1 : 0, 0]),
  );
  const group = device.createBindGroup({
    layout: compiled.layout,
    entries: [uniform, unused[0], unused[1], raw, prepared, aux, unused[2], unused[3]]
      .map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder({ label: "hopc prepare memories" });
  const pass = encoder.beginComputePass();
  pass.setPipeline(compiled.prepare);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.min(M, opts.maxX), Math.ceil(M / opts.maxX));
  pass.end();
  device.queue.submit([encoder.finish()]);
  for (const b of unused) b.destroy(); // freed once the work is done
  return { prepared, aux };
}

export interface RetrieveResult {
  /** Final states, B x D, row-major (B x Dv value readouts when values were given). */
  states: Float32Array;
  /** Final weights, B x M, when asked for. */
  weights?: Float32Array;
  /** Steps each query ran (fewer than the maximum where `until` stopped it). */
  stepsRun: Uint32Array;
}

/** D-column rows as zero-padded rows of paddedDim columns, in float32. */
export function padRows(
  data: ArrayLike<number>,
  rows: number,
  D: number,
  paddedDim: number,
): Float32Array<ArrayBuffer> {
  return padChunks(data, rows, D, paddedDim / 4);
}

export interface LoadOptions {
  /** Adapter limits to plan with (default: the device's). */
  limits?: PlanLimits;
  /**
   * The memories already went through the input post-transform (the compiler's continuous-memory
   * pass fits coefficients from transformed memories): only their norms are computed at load.
   */
  memoriesTransformed?: boolean;
  /** The per-row numbers of a kernel whose memoryAux is `host` (one f32 each). */
  aux?: ArrayLike<number>;
  /**
   * Which kernel runs a model that has both: the query-blocked kernels (default) or the
   * one-workgroup-per-query kernel (allowed only where its loops fit the budget).
   */
  kernel?: "blocked" | "workgroup";
  /** Pinned choices of the blocked plan (a tuned plan, a test). */
  blocked?: BlockedChoices & { source?: BlockedPlan["source"] };
  /**
   * Loop iterations one shader invocation may run (default 60000, within llvmpipe's 65535: its
   * loops silently stop past that; GPU watchdogs bound a dispatch's length likewise).
   */
  loopBudget?: number;
  /**
   * The memory graph's adjacency, M x M numbers (row-major, entries >= 0; [i, j] the edge from
   * memory i to memory j) of a model with `readout project(h != 0)`. Normalized at load to
   * D^-1/2 A D^-1/2 (D the row sums; a zero degree gives 0).
   */
  graph?: ArrayLike<number>;
  /**
   * The fitted map of a learned similarity (kernel.learned): W, F x D numbers row-major (F = D
   * for uhop), and b, F numbers (kernelized; none for uhop). `hopc retrieve --save-fit F.npz`
   * writes one (arrays W and b); the library's retriever exposes its `fit`.
   */
  fit?:
    | { W: ArrayLike<number>; b?: ArrayLike<number> | null }
    /** A-Hop's fit (kernel.footprint): footprint weights w (D numbers), mixing scalars a, b. */
    | { w: ArrayLike<number>; a: number; b: number };
}

/** What `Retrieval.load` gives: either kernel bound to its memories. */
export interface Loaded {
  readonly memoryBytes: number;
  /** The blocked plan when the blocked kernels run, else null. */
  readonly blockedPlan: BlockedPlan | null;
  /** The WGSL that runs (the blocked kernels as planned, or the kernel's fixed text). */
  readonly wgsl: string;
  retrieve(
    Q: ArrayLike<number>,
    B: number,
    opts?: RetrieveOptions,
  ): Promise<RetrieveResult>;
  destroy(): void;
}

/**
 * The projected families on the blocked kernels: the memories are post-transformed on the GPU
 * when the model says so (its own prepare pass, read back once), the rows are prepared on the
 * host in float64 (hopc_host.ts: the features' [W; KV] with ksum and c_k, or the continuous
 * memory's coefficients with the signal's numbers at the points), then uploaded as key rows
 * (and value rows after them) with their host numbers.
 */
async function loadBlockedPrepared(
  device: GPUDevice,
  kernel: KernelSpec & { hostPrep: HostPrep; blocked: BlockedParts },
  X: ArrayLike<number>,
  L: number,
  D: number,
  opts: LoadOptions,
): Promise<Loaded> {
  const limits = opts.limits ?? device.limits;
  const budget = opts.loopBudget ?? DEFAULT_LOOP_BUDGET;
  const prep = kernel.hostPrep;
  const keys = prep.kind === "continuous"
    ? prep.spec.functions
    : prep.spec.map === "elu"
    ? D
    : prep.spec.count;
  const plan = planBlocked(kernel.blocked, keys, D, limits, budget, opts.blocked);
  const data = kernel.transformsInputs && !opts.memoriesTransformed
    ? await BlockedRetrieval.transformRows(device, kernel.blocked, plan, X, L, D, limits)
    : Float64Array.from(X);
  const { rows, aux } = hostRows(prep, { rows: L, cols: D, data });
  let stored = rows.data;
  if (prep.kind === "features" && prep.spec.map === "elu") {
    // elu features are phi(q) itself: the key rows are the identity, KV follows.
    stored = new Float64Array(2 * D * D);
    for (let d = 0; d < D; d++) stored[d * D + d] = 1;
    stored.set(rows.data, D * D);
  }
  const loaded = await BlockedRetrieval.load(device, kernel.blocked, plan, stored, keys, D, {
    limits,
    memoriesTransformed: true,
    parallelism: opts.blocked?.parallelism,
    hostAux: aux ?? new Float64Array(1),
  });
  return {
    memoryBytes: loaded.memoryBytes,
    blockedPlan: plan,
    wgsl: loaded.wgsl,
    retrieve: (Q, B, o) => loaded.retrieve(Q, B, o),
    destroy: () => loaded.destroy(),
  };
}

/**
 * The readout rows of `readout project` (CDAM, MATH.md 7.7), in float64 on the host: from the
 * memories after the model's input post-transform (on the GPU, by its own prepare pass, as the
 * keys are) and the normalized graph. The graph is checked here too: a generated module has no
 * other check.
 */
async function projectedReadout(
  device: GPUDevice,
  kernel: KernelSpec & { blocked?: BlockedParts },
  plan: BlockedPlan,
  X: ArrayLike<number>,
  M: number,
  D: number,
  limits: PlanLimits,
  opts: LoadOptions,
  /** The memories after the input post-transform, when the caller has them already. */
  transformed?: Float64Array,
): Promise<Float64Array> {
  const spec = kernel.readout!;
  const A = opts.graph;
  if (spec.h !== 0 && !A) {
    throw new RangeError(
      `model \`${kernel.name}\`: its readout project(h = ${spec.h}) reads the memory graph: give opts.graph (M x M numbers)`,
    );
  }
  let H: { rows: number; cols: number; data: Float64Array } | null = null;
  if (A && spec.h !== 0) {
    if (A.length !== M * M) {
      throw new RangeError(`the graph must be M x M = ${M} x ${M} numbers, got ${A.length}`);
    }
    for (let i = 0; i < A.length; i++) {
      if (!(Number.isFinite(A[i]) && A[i] >= 0)) {
        throw new RangeError(
          `the graph's entry at row ${Math.floor(i / M)}, column ${i % M} is ${
            A[i]
          }: edge weights must be finite and zero or positive`,
        );
      }
    }
    H = normalizeGraph({ rows: M, cols: M, data: Float64Array.from(A) });
  }
  const data = transformed ??
    await transformedMemories(device, kernel, plan, X, M, D, limits, opts);
  return projectRows(spec, { rows: M, cols: D, data }, H).data;
}

/** The memories after the model's input post-transform (the GPU's own prepare pass), float64. */
function transformedMemories(
  device: GPUDevice,
  kernel: KernelSpec & { blocked?: BlockedParts },
  plan: BlockedPlan,
  X: ArrayLike<number>,
  M: number,
  D: number,
  limits: PlanLimits,
  opts: LoadOptions,
): Promise<Float64Array> {
  return kernel.transformsInputs && !opts.memoriesTransformed
    ? BlockedRetrieval.transformRows(device, kernel.blocked!, plan, X, M, D, limits)
    : Promise.resolve(Float64Array.from(X));
}

/**
 * A learned similarity's key rows K_i = W^T phi(x_i) and biases c_i = phi(x_i) . b from the
 * fitted map (opts.fit) and the memories after the input post-transform, in float64 on the host;
 * the readout rows are those memories (or their projection, `readout project`).
 */
async function learnedRows(
  device: GPUDevice,
  kernel: KernelSpec & { blocked?: BlockedParts; learned: NonNullable<KernelSpec["learned"]> },
  plan: BlockedPlan,
  X: ArrayLike<number>,
  M: number,
  D: number,
  limits: PlanLimits,
  opts: LoadOptions,
): Promise<{ keys: Float64Array; bias: Float64Array; readout: Float64Array }> {
  const spec = kernel.learned;
  const F = spec.features ?? D;
  const shape = `W: F x D = ${F} x ${D} numbers${spec.bias ? `, b: ${F}` : ""}`;
  const fit = opts.fit && "W" in opts.fit ? opts.fit : undefined;
  if (!fit) {
    throw new RangeError(
      `model \`${kernel.name}\` scores with a learned similarity (${spec.kind}): give its fitted map at load, ` +
        `load(device, X, M, D, { fit: { W${spec.bias ? ", b" : ""} } }) (${shape}); ` +
        "`hopc retrieve --save-fit F.npz` saves one, and the library's retriever exposes its `fit`",
    );
  }
  if (
    fit.W.length !== F * D || (spec.bias ? fit.b?.length !== F : fit.b != null && fit.b.length > 0)
  ) {
    throw new RangeError(
      `model \`${kernel.name}\`: the fitted map must be ${shape}${
        spec.bias ? "" : " and no b"
      }; got W of ${fit.W.length} numbers${fit.b ? ` and b of ${fit.b.length}` : ""}`,
    );
  }
  for (const [name, a] of [["W", fit.W], ["b", fit.b ?? []]] as const) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        throw new RangeError(
          `model \`${kernel.name}\`: the fitted ${name} holds ${a[i]} at entry ${i}`,
        );
      }
    }
  }
  const data = await transformedMemories(device, kernel, plan, X, M, D, limits, opts);
  const { keys, bias } = learnedKeys(fit.W, spec.bias ? fit.b : null, F, {
    rows: M,
    cols: D,
    data,
  });
  const readout = kernel.readout
    ? await projectedReadout(device, kernel, plan, X, M, D, limits, opts, data)
    : data;
  return { keys: keys.data, bias, readout };
}

/** A-Hop's host aux (Omega, a, b) from opts.fit, checked (a generated module has no other check). */
function footprintAux(kernel: KernelSpec, D: number, opts: LoadOptions): Float64Array {
  const fit = opts.fit && "w" in opts.fit ? opts.fit : undefined;
  if (!fit) {
    throw new RangeError(
      `model \`${kernel.name}\` scores with A-Hop's adaptive similarity: give its fit at load, ` +
        `load(device, X, M, D, { fit: { w, a, b } }) (w: D = ${D} footprint weights, a and b numbers); ` +
        "`hopc retrieve --save-fit F.npz` saves one (arrays w, a, b), and the library's retriever exposes its `fit`",
    );
  }
  if (fit.w.length !== D) {
    throw new RangeError(
      `model \`${kernel.name}\`: A-Hop's footprint weights w must be D = ${D} numbers, got ${fit.w.length}`,
    );
  }
  const aux = ahopAux(fit.w, fit.a, fit.b);
  const bad = aux.findIndex((v) => !Number.isFinite(v) || Math.abs(v) > 3.4028234663852886e38);
  if (bad >= 0) {
    throw new RangeError(
      `model \`${kernel.name}\`: A-Hop's fit holds a number that is not a finite float32 (${
        bad < D ? `a suffix sum of w at ${bad}` : bad === D ? "a" : "b"
      })`,
    );
  }
  return aux;
}

/** Loop budget when the caller gives none: below llvmpipe's per-invocation limit. */
export const DEFAULT_LOOP_BUDGET = 60000;

/**
 * Loop iterations per invocation of the one-workgroup-per-query kernel (an upper estimate): it
 * runs every step of a query in one invocation, so its loops grow with M and the steps.
 */
export function workgroupKernelIterations(
  kernel: Pick<KernelSpec, "family" | "mask">,
  plan: ShapePlan,
  M: number,
  steps: number,
  bisection: number,
): number {
  const d4 = plan.paddedDim / 4, wg = plan.workgroupSize;
  const L = Math.ceil(Math.log2(wg));
  const tiles = Math.ceil(M / plan.tileRows);
  const ch = Math.min(d4, wg);
  const perTile = Math.ceil(plan.tileRows * d4 / wg) + Math.ceil(d4 / plan.lanes) + plan.lanes +
    Math.ceil(plan.tileRows / plan.groups) * Math.ceil(d4 / ch) * 2 + 3 * L + 4;
  const perM = Math.ceil(M / wg);
  let step = tiles * perTile + 8 * Math.ceil(d4 / wg) + plan.groups * 2 + 8 * L;
  if (kernel.family === "threshold") {
    step += (bisection + 6) * (perM + L) + Math.ceil(M / plan.groups) * Math.ceil(d4 / ch);
    if (kernel.mask === "topk") step += (34 + Math.ceil(Math.log2(M + 1))) * (perM + L);
  }
  return Math.ceil(1.25 * (steps * step + (kernel.mask === "random" ? 3 * (perM + L) : 0)));
}

/** One model bound to its memories on one device. */
export class Retrieval {
  #bufs = new Map<string, GPUBuffer>();
  private constructor(
    readonly device: GPUDevice,
    readonly kernel: KernelSpec,
    readonly plan: ShapePlan,
    readonly M: number,
    readonly D: number,
    readonly limits: PlanLimits,
    readonly compiled: Compiled,
    readonly memories: GPUBuffer,
    readonly memoryAux: GPUBuffer,
    readonly uniform: GPUBuffer,
  ) {}

  get blockedPlan(): null {
    return null;
  }

  get wgsl(): string {
    return this.kernel.wgsl;
  }

  /**
   * Load M memories (M x D, row-major) and plan for this adapter. The memories, and the queries
   * of every `retrieve`, must be finite (and non-negative where the similarity needs it): a NaN
   * or a negative entry would otherwise come back as a plausible wrong answer.
   */
  static async load(
    device: GPUDevice,
    kernel: KernelSpec,
    X: ArrayLike<number>,
    M: number,
    D: number,
    opts: LoadOptions = {},
  ): Promise<Loaded> {
    if (!(M >= 1 && D >= 1 && X.length === M * D)) {
      throw new RangeError(`memories must be M x D = ${M} x ${D} values, got ${X.length}`);
    }
    const nonNegative = kernel.nonNegativeInputs === true;
    checkInput(kernel, "memories", X, D, nonNegative);
    const inner = await Retrieval.#loadChecked(device, kernel, X, M, D, opts);
    return {
      get memoryBytes() {
        return inner.memoryBytes;
      },
      get blockedPlan() {
        return inner.blockedPlan;
      },
      get wgsl() {
        return inner.wgsl;
      },
      retrieve: async (Q, B, o) => {
        checkInput(kernel, "queries", Q, D, nonNegative);
        return checkOutput(kernel, await inner.retrieve(Q, B, o), B);
      },
      destroy: () => inner.destroy(),
    };
  }

  static async #loadChecked(
    device: GPUDevice,
    kernel: KernelSpec,
    X: ArrayLike<number>,
    M: number,
    D: number,
    opts: LoadOptions,
  ): Promise<Loaded> {
    if (kernel.workgroupUnsupported && (opts.kernel === "workgroup" || !kernel.blocked)) {
      throw new PlanError(
        `model \`${kernel.name}\`: ${kernel.workgroupUnsupported}`,
        'load without kernel: "workgroup"',
      );
    }
    if (kernel.hostPrep && kernel.blocked && opts.kernel !== "workgroup") {
      const prepared = { ...kernel, hostPrep: kernel.hostPrep, blocked: kernel.blocked };
      return loadBlockedPrepared(device, prepared, X, M, D, opts);
    }
    if (kernel.hostPrep) {
      return Retrieval.#loadPrepared(
        device,
        { ...kernel, hostPrep: kernel.hostPrep },
        X,
        M,
        D,
        opts,
      );
    }
    if (M < kernel.minMemories) {
      throw new RangeError(
        `model \`${kernel.name}\` needs at least ${kernel.minMemories} memories, got M = ${M}`,
      );
    }
    const limits = opts.limits ?? device.limits;
    const budget = opts.loopBudget ?? DEFAULT_LOOP_BUDGET;
    if (kernel.blocked && opts.kernel !== "workgroup") {
      const plan = planBlocked(kernel.blocked, M, D, limits, budget, opts.blocked);
      const learned = kernel.learned
        ? await learnedRows(
          device,
          { ...kernel, learned: kernel.learned },
          plan,
          X,
          M,
          D,
          limits,
          opts,
        )
        : null;
      const footprint = kernel.footprint ? footprintAux(kernel, D, opts) : null;
      const readoutRows = learned
        ? learned.readout
        : kernel.readout
        ? await projectedReadout(device, kernel, plan, X, M, D, limits, opts)
        : undefined;
      // A learned similarity's key rows are prepared on the host: never post-transformed here.
      const loaded = await BlockedRetrieval.load(
        device,
        kernel.blocked,
        plan,
        learned ? learned.keys : X,
        M,
        D,
        {
          limits,
          memoriesTransformed: learned ? true : opts.memoriesTransformed,
          parallelism: opts.blocked?.parallelism,
          readoutRows,
          ...(learned ? { hostAux: learned.bias } : {}),
          ...(footprint ? { hostAux: footprint } : {}),
        },
      );
      return {
        memoryBytes: loaded.memoryBytes,
        blockedPlan: plan,
        wgsl: loaded.wgsl,
        retrieve: (Q, B, o) => loaded.retrieve(Q, B, o),
        destroy: () => loaded.destroy(),
      };
    }
    const plan = planShapes(kernel, M, D, limits);
    if (kernel.blocked) {
      const steps = kernel.blocked.maxSteps;
      const n = workgroupKernelIterations(kernel, plan, M, steps, kernel.blocked.bisection);
      if (n > budget) {
        throw new PlanError(
          `the one-workgroup-per-query kernel would run about ${n} loop iterations per invocation at M = ${M}, over the budget of ${budget}`,
          "use the blocked kernels (the default)",
        );
      }
    }
    const bytes = memoryBytes(M, D, plan.paddedDim, limits);
    const compiled = await compile(device, kernel, overrideConstants(plan));
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const raw = device.createBuffer({
      label: "hopc memories",
      size: Math.max(16, bytes),
      usage: storage,
    });
    device.queue.writeBuffer(raw, 0, padRows(X, M, D, plan.paddedDim));
    const uniform = device.createBuffer({
      label: "hopc shape",
      size: 32,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    if (kernel.memoryAux === "host") {
      // Rows and their numbers were prepared by the host (fitted coefficients, features).
      if (!opts.aux || opts.aux.length === 0) {
        throw new RangeError(
          `model \`${kernel.name}\` needs its per-row numbers (opts.aux) at load`,
        );
      }
      const aux = device.createBuffer({
        label: "hopc memory aux (host)",
        size: Math.max(16, Math.ceil(opts.aux.length / 4) * 16),
        usage: storage,
      });
      device.queue.writeBuffer(aux, 0, Float32Array.from(opts.aux));
      return new Retrieval(device, kernel, plan, M, D, limits, compiled, raw, aux, uniform);
    }
    const needsPrepare = (kernel.transformsInputs && !opts.memoriesTransformed) ||
      kernel.memoryAux !== "none";
    if (!needsPrepare) {
      const aux = device.createBuffer({
        label: "hopc memory aux (unused)",
        size: 16,
        usage: storage,
      });
      return new Retrieval(device, kernel, plan, M, D, limits, compiled, raw, aux, uniform);
    }
    // The `prepare` entry point post-transforms each memory row and computes its norm, on the GPU
    // with the same code that transforms the queries.
    const { prepared, aux } = prepareRows(device, compiled, uniform, raw, M, D, {
      transform: !opts.memoriesTransformed,
      maxX: limits.maxComputeWorkgroupsPerDimension,
    });
    raw.destroy(); // freed once the work is done
    return new Retrieval(device, kernel, plan, M, D, limits, compiled, prepared, aux, uniform);
  }

  /**
   * Models whose kernel reads rows derived from the memories (continuous memory, features): the
   * memories are post-transformed on the GPU when the model says so (the kernel's own `prepare`
   * pass, read back once), the rows are prepared on the host in float64 (hopc_host.ts), then
   * loaded as the kernel's memory.
   */
  static async #loadPrepared(
    device: GPUDevice,
    kernel: KernelSpec & { hostPrep: HostPrep },
    X: ArrayLike<number>,
    L: number,
    D: number,
    opts: LoadOptions,
  ): Promise<Loaded> {
    const limits = opts.limits ?? device.limits;
    let data = Float64Array.from(X);
    if (kernel.transformsInputs && !opts.memoriesTransformed) {
      // Plan at the final row count, so the pipeline is the one the retrieval uses.
      const plan = planShapes(kernel, preparedRowCount(kernel.hostPrep, D), D, limits);
      const bytes = memoryBytes(L, D, plan.paddedDim, limits);
      const compiled = await compile(device, kernel, overrideConstants(plan));
      const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      const raw = device.createBuffer({ label: "hopc raw memories", size: bytes, usage: storage });
      device.queue.writeBuffer(raw, 0, padRows(X, L, D, plan.paddedDim));
      const uniform = device.createBuffer({
        label: "hopc shape",
        size: 32,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      const { prepared, aux } = prepareRows(device, compiled, uniform, raw, L, D, {
        transform: true,
        maxX: limits.maxComputeWorkgroupsPerDimension,
      });
      const readback = device.createBuffer({
        label: "hopc prepared readback",
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const encoder = device.createCommandEncoder({ label: "hopc read prepared memories" });
      encoder.copyBufferToBuffer(prepared, 0, readback, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      const padded = new Float32Array(readback.getMappedRange());
      data = new Float64Array(L * D);
      for (let i = 0; i < L; i++) {
        for (let d = 0; d < D; d++) data[i * D + d] = padded[i * plan.paddedDim + d];
      }
      readback.unmap();
      for (const b of [raw, prepared, aux, uniform, readback]) b.destroy();
    }
    const { rows, aux } = hostRows(kernel.hostPrep, { rows: L, cols: D, data });
    const { hostPrep: _, ...rest } = kernel;
    return Retrieval.load(device, rest, rows.data, rows.rows, D, {
      ...opts,
      limits,
      memoriesTransformed: true,
      aux,
    });
  }

  /** Bytes the memory holds on the device: its rows and their per-row numbers. */
  get memoryBytes(): number {
    return this.memories.size + (this.kernel.memoryAux === "none" ? 0 : this.memoryAux.size);
  }

  /** A reusable buffer of at least `bytes`, grown when a call needs more. */
  #buffer(name: string, bytes: number, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    let b = this.#bufs.get(name);
    if (!b || b.size < size) {
      b?.destroy();
      b = this.device.createBuffer({ label: `hopc ${name}`, size, usage });
      this.#bufs.set(name, b);
    }
    return b;
  }

  /**
   * Retrieve B queries (B x D, row-major). `weights` also returns the final weights [B, M];
   * `transformed` says the queries already went through the input post-transform (a trace
   * resuming from a previous step's states).
   */
  retrieve(
    Q: ArrayLike<number>,
    B: number,
    opts: RetrieveOptions = {},
  ): Promise<RetrieveResult> {
    // Calls share this object's buffers (and its one readback buffer, which cannot be mapped
    // twice): overlapping calls run one after another.
    const run = this.#last.then(() => this.#retrieve(Q, B, opts));
    this.#last = run.catch(() => {});
    return run;
  }

  #last: Promise<unknown> = Promise.resolve();

  async #retrieve(
    Q: ArrayLike<number>,
    B: number,
    opts: RetrieveOptions,
  ): Promise<RetrieveResult> {
    const { device, plan, M, D, limits } = this;
    if (opts.values || opts.clamp) {
      throw new PlanError(
        "values and clamp run on the query-blocked kernels, not the one-workgroup-per-query kernel",
        'load without kernel: "workgroup"',
      );
    }
    if (!(B >= 1 && Q.length === B * D)) {
      throw new RangeError(`queries must be B x D = ${B} x ${D} values, got ${Q.length}`);
    }
    const wantWeights = opts.weights === true;
    if (wantWeights && this.kernel.family === "features") {
      throw new PlanError(
        "features retrieval never forms one weight per memory on the GPU (it reads KV, not X)",
        "ask for weights with --device cpu, which computes them from the memories' features",
      );
    }
    const maxBinding = limits.maxStorageBufferBindingSize;
    const stateBytes = B * plan.paddedDim * 4;
    const weightBytes = wantWeights ? B * M * 4 : 4;
    for (const [what, bytes] of [["queries", stateBytes], ["weights", weightBytes]] as const) {
      if (bytes > maxBinding) {
        throw new PlanError(
          `the ${what} of ${B} queries need ${bytes} bytes, over the storage binding limit of ${maxBinding}`,
          "retrieve fewer queries per call",
        );
      }
    }
    // Score rows in storage take one row of M (+ rowExtra) floats per query: queries go in
    // slices that fit.
    const rowLength = M + (this.kernel.rowExtra ?? 0);
    const slice = plan.scores === "storage"
      ? Math.max(1, Math.min(B, Math.floor(maxBinding / (rowLength * 4))))
      : B;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const queries = this.#buffer("queries", stateBytes, storage);
    const states = this.#buffer("states", stateBytes, storage);
    const weights = this.#buffer("weights", weightBytes, storage);
    const scratch = this.#buffer(
      "scratch",
      plan.scores === "storage" ? slice * rowLength * 4 : 4,
      storage,
    );
    const stepsRun = this.#buffer("steps run", B * 4, storage);
    const readback = this.#buffer(
      "readback",
      stateBytes + B * 4 + (wantWeights ? B * M * 4 : 0),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    device.queue.writeBuffer(queries, 0, padRows(Q, B, D, plan.paddedDim));
    const group = device.createBindGroup({
      layout: this.compiled.layout,
      entries: [
        this.uniform,
        this.memories,
        this.memoryAux,
        queries,
        states,
        weights,
        scratch,
        stepsRun,
      ]
        .map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const maxX = limits.maxComputeWorkgroupsPerDimension;
    for (let first = 0; first < B; first += slice) {
      // Each slice needs its own uniforms, so its own submission (only when M is huge).
      const count = Math.min(slice, B - first);
      device.queue.writeBuffer(
        this.uniform,
        0,
        new Uint32Array([M, D, B, wantWeights ? 1 : 0, first, count, opts.transformed ? 0 : 1, 0]),
      );
      const encoder = device.createCommandEncoder({ label: `hopc ${this.kernel.name}` });
      const pass = encoder.beginComputePass();
      pass.setPipeline(this.compiled.main);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.min(count, maxX), Math.ceil(count / maxX));
      pass.end();
      if (first + slice >= B) {
        // The last slice carries the copies for the one readback of this call.
        encoder.copyBufferToBuffer(states, 0, readback, 0, stateBytes);
        encoder.copyBufferToBuffer(stepsRun, 0, readback, stateBytes, B * 4);
        if (wantWeights) {
          encoder.copyBufferToBuffer(weights, 0, readback, stateBytes + B * 4, B * M * 4);
        }
      }
      device.queue.submit([encoder.finish()]);
    }
    await readback.mapAsync(GPUMapMode.READ);
    try {
      const bytes = readback.getMappedRange();
      const padded = new Float32Array(bytes, 0, B * plan.paddedDim);
      const out = new Float32Array(B * D);
      for (let b = 0; b < B; b++) {
        out.set(padded.subarray(b * plan.paddedDim, b * plan.paddedDim + D), b * D);
      }
      const result: RetrieveResult = {
        states: out,
        stepsRun: new Uint32Array(bytes.slice(stateBytes, stateBytes + B * 4)),
      };
      if (wantWeights) {
        result.weights = new Float32Array(
          bytes.slice(stateBytes + B * 4, stateBytes + B * 4 + B * M * 4),
        );
      }
      return result;
    } finally {
      readback.unmap();
    }
  }

  /** Free the GPU buffers (pipelines stay cached for the device). */
  destroy(): void {
    for (const b of this.#bufs.values()) b.destroy();
    this.#bufs.clear();
    this.memories.destroy();
    this.memoryAux.destroy();
    this.uniform.destroy();
  }
}
