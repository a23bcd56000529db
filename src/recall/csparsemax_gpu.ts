// Constrained sparsemax recall steps on the GPU (MATH.md 3.8; ./csparsemax.ts is the float64
// reference). One query, one workgroup of WG threads, one dispatch per step:
//
//   s_i = β x_i·q                                   (each thread scores rows lid, lid + WG, ...)
//   τ: bisection of f(τ) = Σ clip(s_i − τ, 0, u_i) − 1 on [min_i(s_i − u_i), max_i s_i], HALVINGS
//      halvings (f32 resolution), then τ = (Σ_free s_i + Σ_capped u_i − 1) / |free| from the sets at
//      the bisection's τ when that lands inside the last bracket
//   p_i = clip(s_i − τ, 0, u_i);   q_d = Σ_i p_i x_id   (each thread reads out dims lid, lid + WG, ...)
//
// The bounds u come from the host before each recall (the host updates them, u <- max(u − p, 0),
// and checks Σu >= 1 first: the GPU never sees an infeasible problem). Every loop of an
// invocation counts toward llvmpipe's 65,535 iterations (src/runtime/blocked/plan.ts
// LLVMPIPE_LOOP_LIMIT): `stepIterations` estimates one step's, and shapes past the adapter's loop
// budget are refused with the numbers, as are memories past one storage binding.
import type { Mat } from "../parts/types.ts";
import type { RunContext } from "../runtime/retriever.ts";
import { loopBudgetFor } from "../runtime/blocked/plan.ts";

/** Threads of the one workgroup (a power of two). */
export const WG = 256;
/** Halvings of the τ bracket: past f32's resolution for any bracket. */
export const HALVINGS = 48;

/** Loop iterations of one invocation in one step (scores, bracket, bisection, sets, readout). */
export function stepIterations(N: number, D: number): number {
  const rows = Math.ceil(N / WG), dims = Math.ceil(D / WG), reduce = Math.log2(WG);
  return rows * D + rows + 2 * reduce + HALVINGS * (rows + reduce) + rows + 2 * reduce + rows +
    dims * N;
}

/** Why these memories cannot run csparsemax steps on this adapter, or null. */
export function csparsemaxGpuUnsupported(ctx: RunContext, N: number, D: number): string | null {
  const budget = loopBudgetFor(ctx.info), need = stepIterations(N, D);
  if (need > budget) {
    return `constrained sparsemax on the GPU runs one workgroup per step, ${need} loop iterations per invocation at N = ${N}, D = ${D}, over this adapter's budget of ${budget}`;
  }
  const bytes = N * D * 4;
  if (bytes > ctx.limits.maxStorageBufferBindingSize) {
    return `the memories need ${bytes} bytes, over this adapter's storage binding limit of ${ctx.limits.maxStorageBufferBindingSize}`;
  }
  return null;
}

const WGSL = /* wgsl */ `
struct Params { n: u32, d: u32, beta: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<f32>;
@group(0) @binding(3) var<storage, read_write> P: array<f32>;
@group(0) @binding(4) var<uniform> prm: Params;

const WG = ${WG}u;
var<workgroup> red: array<f32, ${WG}>;

fn reduce(lid: u32, v: f32, op: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      let a = red[lid];
      let b = red[lid + s];
      red[lid] = select(select(max(a, b), min(a, b), op == 1u), a + b, op == 0u);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(${WG})
fn step(@builtin(local_invocation_index) lid: u32) {
  let n = prm.n;
  let d = prm.d;
  for (var i = lid; i < n; i = i + WG) {
    var acc = 0.0;
    for (var j = 0u; j < d; j = j + 1u) { acc = acc + X[i * d + j] * Q[j]; }
    P[i] = prm.beta * acc;
  }
  storageBarrier();
  workgroupBarrier();
  var part_lo = 3.0e38;
  var part_hi = -3.0e38;
  for (var i = lid; i < n; i = i + WG) {
    part_lo = min(part_lo, P[i] - U[i]);
    part_hi = max(part_hi, P[i]);
  }
  var lo = reduce(lid, part_lo, 1u);
  var hi = reduce(lid, part_hi, 2u);
  for (var it = 0u; it < ${HALVINGS}u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var f = 0.0;
    for (var i = lid; i < n; i = i + WG) { f = f + clamp(P[i] - tau, 0.0, U[i]); }
    if (reduce(lid, f, 0u) >= 1.0) { lo = tau; } else { hi = tau; }
  }
  var free = 0.0;
  var sum = 0.0;
  for (var i = lid; i < n; i = i + WG) {
    let v = P[i] - lo;
    if (v > 0.0 && v < U[i]) { free = free + 1.0; sum = sum + P[i]; }
    else if (v >= U[i]) { sum = sum + U[i]; }
  }
  let count = reduce(lid, free, 0u);
  let total = reduce(lid, sum, 0u);
  var tau = lo;
  if (count > 0.0) {
    let exact = (total - 1.0) / count;
    let slack = 4.0 * (hi - lo) + 1e-6 * (abs(lo) + 1.0);
    if (exact >= lo - slack && exact <= hi + slack) { tau = exact; }
  }
  storageBarrier();
  workgroupBarrier();
  for (var i = lid; i < n; i = i + WG) { P[i] = clamp(P[i] - tau, 0.0, U[i]); }
  storageBarrier();
  workgroupBarrier();
  for (var j = lid; j < d; j = j + WG) {
    var acc = 0.0;
    for (var i = 0u; i < n; i = i + 1u) { acc = acc + P[i] * X[i * d + j]; }
    Q[j] = acc;
  }
}
`;

const pipelines = new WeakMap<GPUDevice, Promise<GPUComputePipeline>>();

async function pipelineFor(device: GPUDevice): Promise<GPUComputePipeline> {
  let p = pipelines.get(device);
  if (!p) {
    p = (async () => {
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ label: "hopc csparsemax", code: WGSL });
      const pipeline = await device.createComputePipelineAsync({
        label: "hopc csparsemax step",
        layout: "auto",
        compute: { module, entryPoint: "step" },
      });
      const error = await device.popErrorScope();
      if (error) throw new Error(`the csparsemax pipeline was rejected: ${error.message}`);
      return pipeline;
    })();
    pipelines.set(device, p);
    p.catch(() => pipelines.delete(device));
  }
  return await p;
}

/** Memories bound to the device for csparsemax recall steps. */
export interface CsparsemaxGpu {
  /** `count` steps from q under bounds u: the final state and weights. */
  steps(
    q: Float64Array,
    u: Float64Array,
    count: number,
  ): Promise<{ q: Float64Array; p: Float64Array }>;
  destroy(): void;
}

/** Uploads X (as f32) once; throws an Error naming the limit where the shape does not fit. */
export async function loadCsparsemaxGpu(
  ctx: RunContext,
  X: Mat,
  beta: number,
): Promise<CsparsemaxGpu> {
  const N = X.rows, D = X.cols, device = ctx.device;
  const why = csparsemaxGpuUnsupported(ctx, N, D);
  if (why) throw new Error(why);
  const pipeline = await pipelineFor(device);
  const storage = (bytes: number, extra = 0) =>
    device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extra,
    });
  const xBuf = storage(N * D * 4);
  device.queue.writeBuffer(xBuf, 0, Float32Array.from(X.data));
  const uBuf = storage(N * 4);
  const qBuf = storage(D * 4, GPUBufferUsage.COPY_SRC);
  const pBuf = storage(N * 4, GPUBufferUsage.COPY_SRC);
  const params = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const prm = new ArrayBuffer(16);
  new Uint32Array(prm, 0, 2).set([N, D]);
  new Float32Array(prm, 8, 1)[0] = beta;
  device.queue.writeBuffer(params, 0, prm);
  const readQ = device.createBuffer({
    size: qBuf.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const readP = device.createBuffer({
    size: pBuf.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [xBuf, uBuf, qBuf, pBuf, params].map((buffer, binding) => ({
      binding,
      resource: { buffer },
    })),
  });
  const buffers = [xBuf, uBuf, qBuf, pBuf, params, readQ, readP];
  return {
    async steps(q, u, count) {
      device.queue.writeBuffer(uBuf, 0, Float32Array.from(u));
      device.queue.writeBuffer(qBuf, 0, Float32Array.from(q));
      const enc = device.createCommandEncoder({ label: "hopc csparsemax steps" });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      for (let t = 0; t < count; t++) pass.dispatchWorkgroups(1);
      pass.end();
      enc.copyBufferToBuffer(qBuf, 0, readQ, 0, qBuf.size);
      enc.copyBufferToBuffer(pBuf, 0, readP, 0, pBuf.size);
      device.queue.submit([enc.finish()]);
      await Promise.all([readQ.mapAsync(GPUMapMode.READ), readP.mapAsync(GPUMapMode.READ)]);
      const qOut = Float64Array.from(new Float32Array(readQ.getMappedRange()).subarray(0, D));
      const pOut = Float64Array.from(new Float32Array(readP.getMappedRange()).subarray(0, N));
      readQ.unmap();
      readP.unmap();
      return { q: qOut, p: pOut };
    },
    destroy() {
      for (const b of buffers) b.destroy();
    },
  };
}
