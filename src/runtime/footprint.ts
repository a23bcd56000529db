// A-Hop's footprint scores on the GPU (src/fit/ahop.ts states the math): for each (query, memory)
// pair, s = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, where u_d = -(xi_d - x_d)^2 and
// v_d = xi_d x_d sorted in descending order and Omega_r = sum_{k >= r} w_k (the suffix sums of the
// footprint weights, computed once on the host). The sort of D values per pair happens in
// workgroup memory, one workgroup per pair: nothing of size B x M x D is ever stored; the output
// is the B x M score matrix.
//
// Plan (footprintPlan): P = D rounded up to a power of two (padding entries hold -F32_MAX, sort
// last, and meet Omega = 0), a bitonic sort of both rows at once (log2 P (log2 P + 1) / 2 stages,
// one barrier each), then a tree reduction of the two weighted sums. Pairs are dispatched as a
// grid of (memories per dispatch, queries) workgroups, each dimension within the adapter's
// maxComputeWorkgroupsPerDimension; a thread's loops run P / workgroup iterations per stage, far
// under llvmpipe's per-invocation loop budget (ENVIRONMENT.md) for every P the limits allow.

export interface FootprintLimits {
  maxComputeWorkgroupSizeX: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
}

export interface FootprintPlan {
  D: number;
  /** D rounded up to a power of two: the sorted length. */
  P: number;
  workgroupSize: number;
  /** Memories per dispatch (the grid's x extent). */
  memoriesPerDispatch: number;
  /** Loop iterations one invocation runs, to compare with the adapter's budget. */
  loopIterations: number;
  why: string[];
}

export class FootprintPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FootprintPlanError";
  }
}

export function footprintPlan(D: number, M: number, limits: FootprintLimits): FootprintPlan {
  const P = 2 ** Math.ceil(Math.log2(Math.max(2, D)));
  // Two sorted rows of P f32, plus the reduction's two rows of workgroupSize f32.
  const workgroupSize = Math.min(
    64,
    limits.maxComputeWorkgroupSizeX,
    limits.maxComputeInvocationsPerWorkgroup,
    P / 2,
  );
  const bytes = 8 * P + 8 * workgroupSize;
  if (bytes > limits.maxComputeWorkgroupStorageSize) {
    throw new FootprintPlanError(
      `A-Hop's footprint sorts D = ${D} values per pair in workgroup memory (${bytes} bytes), more than this adapter's ${limits.maxComputeWorkgroupStorageSize}: use D <= ${
        2 ** Math.floor(Math.log2((limits.maxComputeWorkgroupStorageSize - 8 * 64) / 8))
      } (D is padded to a power of two) or --device cpu`,
    );
  }
  const stages = Math.log2(P) * (Math.log2(P) + 1) / 2;
  const perThread = P / workgroupSize;
  return {
    D,
    P,
    workgroupSize,
    memoriesPerDispatch: Math.min(M, limits.maxComputeWorkgroupsPerDimension),
    loopIterations: perThread + stages * (perThread / 2) + perThread + Math.log2(workgroupSize),
    why: [
      `sort ${P} (D = ${D} padded to a power of two) in workgroup memory, ${stages} bitonic stages`,
      `${workgroupSize} threads per pair, ${perThread} entries each`,
    ],
  };
}

export function footprintWgsl(plan: FootprintPlan): string {
  const { D, P, workgroupSize: W } = plan;
  return `// A-Hop footprint scores: one workgroup per (query, memory) pair; see src/runtime/footprint.ts.
struct Params { memories: u32, queries: u32, memory0: u32, a: f32, b: f32 }
@group(0) @binding(0) var<storage, read> memories: array<f32>;   // [M, D]
@group(0) @binding(1) var<storage, read> queries: array<f32>;    // [B, D]
@group(0) @binding(2) var<storage, read> omega: array<f32>;      // [D] suffix sums of w
@group(0) @binding(3) var<storage, read_write> scores: array<f32>; // [B, M]
@group(0) @binding(4) var<uniform> params: Params;

const D = ${D}u;
const P = ${P}u;       // D padded to a power of two
const LOWEST = -3.4028234663852886e38; // padding: sorts last, meets omega = 0

var<workgroup> distance: array<f32, ${P}>;  // -(xi_d - x_d)^2, sorted descending in place
var<workgroup> product: array<f32, ${P}>;   // xi_d x_d, sorted descending in place
var<workgroup> partial_d: array<f32, ${W}>;
var<workgroup> partial_p: array<f32, ${W}>;

@compute @workgroup_size(${W})
fn footprint_scores(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let memory = params.memory0 + wg.x;
  let query = wg.y;
  let in_range = memory < params.memories && query < params.queries;
  for (var d = lid; d < P; d += ${W}u) {
    var u = LOWEST;
    var v = LOWEST;
    if (in_range && d < D) {
      let m = memories[memory * D + d];
      let x = queries[query * D + d];
      u = -(m - x) * (m - x);
      v = m * x;
    }
    distance[d] = u;
    product[d] = v;
  }
  workgroupBarrier();
  // Bitonic sort, descending: stage (k, j) compares i with i ^ j for the P / 2 pairs i < (i ^ j).
  for (var k = 2u; k <= P; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var t = lid; t < P / 2u; t += ${W}u) {
        let i = ((t / j) * 2u * j) + (t % j);   // the lower index of the t-th pair
        let partner = i + j;
        let descending = (i & k) == 0u;
        let du = distance[i];
        let dv = distance[partner];
        if ((du < dv) == descending) {
          distance[i] = dv;
          distance[partner] = du;
        }
        let pu = product[i];
        let pv = product[partner];
        if ((pu < pv) == descending) {
          product[i] = pv;
          product[partner] = pu;
        }
      }
      workgroupBarrier();
    }
  }
  // sum_r u_(r) Omega_r over this thread's ranks, then a tree over the workgroup.
  var sd = 0.0;
  var sp = 0.0;
  for (var r = lid; r < D; r += ${W}u) {
    sd += distance[r] * omega[r];
    sp += product[r] * omega[r];
  }
  partial_d[lid] = sd;
  partial_p[lid] = sp;
  workgroupBarrier();
  for (var half = ${W >> 1}u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partial_d[lid] += partial_d[lid + half];
      partial_p[lid] += partial_p[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u && in_range) {
    scores[query * params.memories + memory] = params.a * partial_d[0] + params.b * partial_p[0];
  }
}
`;
}

export interface FootprintParams {
  w: ArrayLike<number>;
  a: number;
  b: number;
}

/** Suffix sums Omega_r = sum_{k >= r} w_k, in float64 before rounding to f32. */
export function suffixSums(w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(w.length);
  let s = 0;
  for (let r = w.length - 1; r >= 0; r--) {
    s += w[r];
    out[r] = s;
  }
  return out;
}

const STORAGE = 0x80 | 0x08; // STORAGE | COPY_DST

/** Scores of B queries against M memories (both row-major f32-representable), B x M. */
export async function footprintScores(
  device: GPUDevice,
  limits: FootprintLimits,
  X: ArrayLike<number>,
  M: number,
  Q: ArrayLike<number>,
  B: number,
  D: number,
  params: FootprintParams,
): Promise<Float32Array> {
  const plan = footprintPlan(D, M, limits);
  for (const [name, n] of [["memories", M * D], ["queries", B * D], ["scores", B * M]] as const) {
    if (4 * n > limits.maxStorageBufferBindingSize) {
      throw new FootprintPlanError(
        `A-Hop's ${name} (${
          4 * n
        } bytes) pass one storage binding (${limits.maxStorageBufferBindingSize}): use fewer, or --device cpu`,
      );
    }
  }
  if (B > limits.maxComputeWorkgroupsPerDimension) {
    throw new FootprintPlanError(
      `${B} queries pass the adapter's ${limits.maxComputeWorkgroupsPerDimension} workgroups per dimension: retrieve them in batches`,
    );
  }
  const module = device.createShaderModule({ code: footprintWgsl(plan), label: "hopc footprint" });
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module, entryPoint: "footprint_scores" },
    label: "hopc footprint",
  });
  const buffer = (data: Float32Array<ArrayBuffer>, usage: number) => {
    const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const memories = buffer(Float32Array.from(X), STORAGE);
  const queries = buffer(Float32Array.from(Q), STORAGE);
  const omega = buffer(Float32Array.from(suffixSums(params.w)), STORAGE);
  const scores = device.createBuffer({ size: Math.max(16, 4 * B * M), usage: 0x80 | 0x04 });
  const readback = device.createBuffer({ size: Math.max(16, 4 * B * M), usage: 0x01 | 0x08 });
  const uniforms: GPUBuffer[] = [];
  const encoder = device.createCommandEncoder({ label: "hopc footprint" });
  for (let memory0 = 0; memory0 < M; memory0 += plan.memoriesPerDispatch) {
    const u = new ArrayBuffer(32);
    new Uint32Array(u, 0, 3).set([M, B, memory0]);
    new Float32Array(u, 12, 2).set([params.a, params.b]);
    const uniform = device.createBuffer({ size: 32, usage: 0x40 | 0x08 });
    device.queue.writeBuffer(uniform, 0, u);
    uniforms.push(uniform);
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [memories, queries, omega, scores, uniform].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(Math.min(plan.memoriesPerDispatch, M - memory0), B);
    pass.end();
  }
  encoder.copyBufferToBuffer(scores, 0, readback, 0, 4 * B * M);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(1);
  const out = new Float32Array(readback.getMappedRange().slice(0, 4 * B * M));
  readback.unmap();
  for (const b of [memories, queries, omega, scores, readback, ...uniforms]) b.destroy();
  return out;
}
