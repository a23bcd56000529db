// The adapter's load rate: how many f32 a compute kernel reads from a storage buffer per second,
// measured with a tiny WGSL kernel that sums a large buffer (64 MiB by default). Each invocation
// sums a contiguous block of `block` vec4s with four accumulators and writes its vec4 sum out; the
// sums are read back and checked against the host's, so no load can be optimized away. The
// benchmark divides M·D by this rate to get the time one read of the memories X takes, the floor
// of a B = 1 retrieval step.
import type { GpuContext } from "../../src/runtime/device.ts";
import { median } from "./common.ts";

/** Threads per workgroup of the load kernel. */
export const LOAD_WORKGROUP = 64;

/** The sum kernel: invocation `inv` adds vec4s [inv·block, (inv + 1)·block) of `src`. */
export function loadRateWgsl(block: number): string {
  if (!(Number.isInteger(block) && block >= 4 && block % 4 === 0)) {
    throw new Error(`block must be a positive multiple of 4 vec4s, got ${block}`);
  }
  return `// hopc bench: load rate (each invocation sums ${block} contiguous vec4s)
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(${LOAD_WORKGROUP})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let inv = g.x + g.y * n.x * ${LOAD_WORKGROUP}u;
  if (inv >= arrayLength(&dst)) { return; }
  let base = inv * ${block}u;
  var a0 = vec4<f32>();
  var a1 = vec4<f32>();
  var a2 = vec4<f32>();
  var a3 = vec4<f32>();
  for (var i = 0u; i < ${block}u; i = i + 4u) {
    a0 = a0 + src[base + i];
    a1 = a1 + src[base + i + 1u];
    a2 = a2 + src[base + i + 2u];
    a3 = a3 + src[base + i + 3u];
  }
  dst[inv] = (a0 + a1) + (a2 + a3);
}
`;
}

export interface LoadRateTrial {
  /** vec4s per invocation. */
  block: number;
  /** Median time of one pass over the buffer, ms. */
  ms: number;
  /** f32 loads per second at that median. */
  loadsPerSecond: number;
  /** Timed submissions (each `passes` dispatches). */
  n: number;
}

export interface LoadRate {
  bytes: number;
  /** f32 loads per second: the best of the trials. */
  loadsPerSecond: number;
  bytesPerSecond: number;
  /** The block size of the best trial. */
  block: number;
  /** Dispatches (each one pass over the buffer) per timed submission. */
  passes: number;
  trials: LoadRateTrial[];
  /** The kernel's sums matched the host's (relative 1e-6). */
  checked: boolean;
}

/**
 * Measures the load rate on `ctx`'s device: for each block size, one checked warm-up pass, then
 * submissions of `passes` dispatches until at least 5 were timed and `minTime` seconds went by;
 * each trial's median, and the fastest trial as the adapter's rate.
 */
export async function measureLoadRate(
  ctx: GpuContext,
  opts: { bytes?: number; blocks?: number[]; passes?: number; minTime?: number } = {},
): Promise<LoadRate> {
  const device = ctx.device;
  const blocks = opts.blocks ?? [64, 256, 1024];
  const passes = opts.passes ?? 4;
  const minTime = opts.minTime ?? 0.3;
  const maxBlock = Math.max(...blocks);
  // Whole blocks of the largest size, within the binding limit.
  const limit = ctx.limits.maxStorageBufferBindingSize;
  const unit = maxBlock * 16;
  const bytes = Math.max(unit, Math.floor(Math.min(opts.bytes ?? 64 << 20, limit) / unit) * unit);
  const floats = bytes / 4;

  // Small integers (exact sums in f32 for any block up to 2^21 floats).
  const data = new Float32Array(floats);
  for (let i = 0; i < floats; i++) data[i] = (i * 7) % 5;
  const src = device.createBuffer({
    label: "bench load src",
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(src, 0, data);
  const buffers: GPUBuffer[] = [src];
  const trials: LoadRateTrial[] = [];
  let checked = true;
  try {
    for (const block of blocks) {
      const invocations = floats / 4 / block;
      const groups = Math.ceil(invocations / LOAD_WORKGROUP);
      const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
      const gx = Math.min(groups, maxX), gy = Math.ceil(groups / gx);
      const dst = device.createBuffer({
        label: "bench load dst",
        size: invocations * 16,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      });
      const read = device.createBuffer({
        label: "bench load read",
        size: invocations * 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      buffers.push(dst, read);
      const module = device.createShaderModule({ code: loadRateWgsl(block) });
      const pipeline = await device.createComputePipelineAsync({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      const group = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: src } }, {
          binding: 1,
          resource: { buffer: dst },
        }],
      });
      // One submission: `k` passes, then a copy of the sums (all of them, or the first vec4).
      const run = async (k: number, all: boolean): Promise<Float32Array | undefined> => {
        const encoder = device.createCommandEncoder({ label: "bench load" });
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let i = 0; i < k; i++) pass.dispatchWorkgroups(gx, gy);
        pass.end();
        const size = all ? invocations * 16 : 16;
        encoder.copyBufferToBuffer(dst, 0, read, 0, size);
        device.queue.submit([encoder.finish()]);
        await read.mapAsync(GPUMapMode.READ, 0, size);
        const out = all ? new Float32Array(read.getMappedRange(0, size).slice(0)) : undefined;
        read.unmap();
        return out;
      };
      // Warm-up, checked: the sums of all blocks against the host's.
      const sums = (await run(1, true))!;
      let got = 0, want = 0;
      for (let i = 0; i < sums.length; i++) got += sums[i];
      for (let i = 0; i < floats; i++) want += data[i];
      if (!(Math.abs(got - want) <= 1e-6 * want)) checked = false;
      const times: number[] = [];
      const start = performance.now();
      while (
        times.length < 5 || (performance.now() - start < minTime * 1000 && times.length < 200)
      ) {
        const t = performance.now();
        await run(passes, false);
        times.push((performance.now() - t) / passes);
      }
      const ms = median(times);
      trials.push({ block, ms, loadsPerSecond: floats / (ms / 1000), n: times.length });
    }
  } finally {
    for (const b of buffers) b.destroy();
  }
  const best = trials.reduce((a, b) => (b.loadsPerSecond > a.loadsPerSecond ? b : a));
  return {
    bytes,
    loadsPerSecond: best.loadsPerSecond,
    bytesPerSecond: best.loadsPerSecond * 4,
    block: best.block,
    passes,
    trials,
    checked,
  };
}
