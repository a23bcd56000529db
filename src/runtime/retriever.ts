// GPU retrieval for one model bound to its memories:
//
//   const r = await load(model, X);          // memories prepared and uploaded once
//   const out = await r.retrieve(Q);         // one submission, one readback per call
//
// `load` applies the input post-transform to the memories (in float64, once), packs them as
// padded vec4 rows, and precomputes what the similarity needs per memory (norms). `retrieve`
// plans the kernel (cached by plan), dispatches one workgroup per query and reads back once.
import { HopError } from "../diagnostics.ts";
import type { Model } from "../ir.ts";
import type { Mat } from "../parts/types.ts";
import { postPart } from "../parts/registry.ts";
import { type DeviceLimits, makePlan, type Plan, planKey } from "../plan/plan.ts";
import { checkShapes, modelError } from "../shapes.ts";
import { BINDINGS, generateKernel } from "../wgsl/kernel.ts";
import { similarityWgsl } from "../wgsl/lowerings.ts";
import { acquireDevice, type GpuContext } from "./device.ts";
import { BufferPool, readback } from "./buffers.ts";
import { type CachedPipeline, makeBindGroup, PipelineCache } from "./pipelines.ts";
import { mapRows } from "../reference/interpreter.ts";

export interface GpuResult {
  /** Final states, B x D (float32). */
  states: Float32Array;
  /** Final weights, B x M, when asked for. */
  weights?: Float32Array;
  /** Steps each query ran (less than the maximum where `until` stopped it). */
  stepsRun: Uint32Array;
}

export interface Retriever {
  readonly model: Model;
  readonly plan: Plan;
  readonly shapes: { M: number; D: number };
  /** The generated WGSL (what `hopc compile` writes). */
  readonly code: string;
  retrieve(Q: Mat, opts?: { weights?: boolean }): Promise<GpuResult>;
  destroy(): void;
}

const caches = new WeakMap<GPUDevice, PipelineCache>();

export function planLimits(ctx: GpuContext): DeviceLimits {
  return { ...ctx.limits, subgroups: ctx.features.has("subgroups") };
}

const LAYOUT: GPUBindGroupLayoutEntry[] = [
  { binding: BINDINGS.shape, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
  ...[BINDINGS.memories, BINDINGS.memoryAux, BINDINGS.queries].map((binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "read-only-storage" as const },
  })),
  ...[BINDINGS.states, BINDINGS.weights, BINDINGS.scratch, BINDINGS.stepsRun].map((binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "storage" as const },
  })),
];

/** Rows of a D-column matrix as zero-padded vec4 rows (paddedDim columns), in float32. */
export function packRows(X: Mat, paddedDim: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(X.rows * paddedDim);
  for (let i = 0; i < X.rows; i++) {
    for (let d = 0; d < X.cols; d++) out[i * paddedDim + d] = X.data[i * X.cols + d];
  }
  return out;
}

export async function load(model: Model, X: Mat, ctx?: GpuContext): Promise<Retriever> {
  ctx ??= await acquireDevice();
  const device = ctx.device;
  const M = X.rows, D = X.cols;
  const plan = makePlan(model, { M, D, B: 1 }, planLimits(ctx));
  const limit = ctx.limits.maxStorageBufferBindingSize;
  const memBytes = M * plan.paddedDim * 4;
  if (memBytes > limit) {
    throw modelError(
      model,
      "memory",
      `the memories need ${memBytes} bytes on the GPU (M = ${M}, D = ${D}), over this adapter's storage binding limit of ${limit} bytes`,
      `split the memories, or use --device cpu`,
    );
  }

  let cache = caches.get(device);
  if (!cache) caches.set(device, cache = new PipelineCache(device));
  const code = generateKernel(model, plan);
  const pipeline: CachedPipeline = await cache.get(planKey(model, plan), () => ({
    code,
    entryPoint: "main",
    layout: [LAYOUT],
  }));

  // Memories are post-transformed once, in float64, exactly as the reference does.
  const post = postPart(model.post);
  const prepared = post.transformsInputs
    ? mapRows(X, (r) => post.reference(r, model.post, model.beta))
    : X;
  const memories = upload(device, packRows(prepared, plan.paddedDim), "memories");
  const aux = similarityWgsl(model.similarity).memoryAux;
  const auxData = new Float32Array(Math.max(1, M));
  if (aux !== "none") {
    for (let i = 0; i < M; i++) {
      let sq = 0;
      for (let d = 0; d < D; d++) sq += prepared.data[i * D + d] ** 2;
      auxData[i] = aux === "norm" ? Math.sqrt(sq) : sq / 2;
    }
  }
  const memoryAux = upload(device, auxData, "memory aux");
  const pool = new BufferPool(device);
  const uniform = device.createBuffer({
    label: "hopc shape",
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });

  return {
    model,
    plan,
    shapes: { M, D },
    code,
    async retrieve(Q, opts = {}) {
      const { B } = checkShapes(model, X, Q);
      const wantWeights = opts.weights === true;
      const weightBytes = wantWeights ? B * M * 4 : 4;
      if (weightBytes > limit) {
        throw new HopError([{
          file: "weights",
          line: 1,
          col: 1,
          length: 1,
          severity: "error",
          message:
            `the weights [${B}, ${M}] need ${weightBytes} bytes, over the storage binding limit of ${limit}`,
          hint: "ask for weights of fewer queries at a time",
        }]);
      }
      // Score rows in storage take B x M floats: queries go in slices that fit one binding.
      const perSlice = plan.scores === "storage" ? Math.max(1, Math.floor(limit / (M * 4))) : B;
      const sliceQueries = Math.min(B, perSlice);
      const queries = pool.acquire(B * plan.paddedDim * 4, "queries");
      device.queue.writeBuffer(queries.buffer, 0, packRows(Q, plan.paddedDim));
      const states = pool.acquire(B * plan.paddedDim * 4, "states");
      const weights = pool.acquire(weightBytes, "weights");
      const scratch = pool.acquire(plan.scores === "storage" ? sliceQueries * M * 4 : 4, "scratch");
      const stepsRun = pool.acquire(B * 4, "steps run");
      const bindGroup = makeBindGroup(
        device,
        pipeline.bindGroupLayout(0),
        [uniform, memories, memoryAux, queries, states, weights, scratch, stepsRun],
      );
      try {
        const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
        // Slices need their own uniforms: each is a separate submission (rare: huge M only).
        for (let first = 0; first < B; first += sliceQueries) {
          const count = Math.min(sliceQueries, B - first);
          device.queue.writeBuffer(
            uniform,
            0,
            new Uint32Array([M, D, B, wantWeights ? 1 : 0, first, count, 0, 0]),
          );
          const encoder = device.createCommandEncoder({ label: `hopc ${model.name}` });
          const pass = encoder.beginComputePass();
          pass.setPipeline(pipeline.pipeline);
          pass.setBindGroup(0, bindGroup);
          pass.dispatchWorkgroups(Math.min(count, maxX), Math.ceil(count / maxX));
          pass.end();
          device.queue.submit([encoder.finish()]);
        }
        const sources = [
          { buffer: states.buffer, offset: 0, size: B * plan.paddedDim * 4 },
          { buffer: stepsRun.buffer, offset: 0, size: B * 4 },
          ...(wantWeights ? [{ buffer: weights.buffer, offset: 0, size: B * M * 4 }] : []),
        ];
        const [padded, steps, w] = await readback(device, sources);
        const out = new Float32Array(B * D);
        for (let b = 0; b < B; b++) {
          out.set(padded.subarray(b * plan.paddedDim, b * plan.paddedDim + D), b * D);
        }
        return {
          states: out,
          stepsRun: new Uint32Array(steps.buffer, steps.byteOffset, B),
          ...(w ? { weights: w } : {}),
        };
      } finally {
        for (const lease of [queries, states, weights, scratch, stepsRun]) pool.release(lease);
      }
    },
    destroy() {
      memories.destroy();
      memoryAux.destroy();
      uniform.destroy();
      pool.destroy();
    },
  };
}

function upload(device: GPUDevice, data: Float32Array<ArrayBuffer>, label: string): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: Math.max(16, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}
