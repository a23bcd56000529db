// Tests of the WebGPU runtime layer: device limits, the pipeline cache, the buffer pool, one-trip
// readback, and WGSL validation by naga (Deno) and Tint (npm:webgpu, null backend). They run on
// whatever adapter Deno finds (Mesa llvmpipe on the build machines); with no adapter they are
// skipped rather than failed, since `--device cpu` is the supported path there.
import assert from "node:assert/strict";
import { acquireDevice, describeLimits, LIMIT_NAMES } from "../src/runtime/device.ts";
import { BufferPool, readback, uploadF32, writeF32 } from "../src/runtime/buffers.ts";
import {
  makeBindGroup,
  PipelineCache,
  type PipelineSpec,
  ShaderCompileError,
} from "../src/runtime/pipelines.ts";
import { type Message, validateBoth, validateNaga, validateTint } from "../src/runtime/validate.ts";

import { gpuContext, gpuTest } from "./helpers/gpu.ts";

const ctx = gpuContext;

const AFFINE: PipelineSpec = {
  entryPoint: "main",
  code: `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < arrayLength(&y)) { y[g.x] = 2.0 * x[g.x] + 1.0; }
}`,
};

gpuTest("device has the adapter's maximum limits and is cached", async ({ adapter, limits }) => {
  for (const name of LIMIT_NAMES) assert.equal(limits[name], adapter.limits[name], name);
  // The point of asking: a default device gets only WebGPU's 16 KiB (llvmpipe offers 32 KiB).
  if (adapter.limits.maxComputeWorkgroupStorageSize >= 32768) {
    assert.ok(limits.maxComputeWorkgroupStorageSize >= 32768, "32 KiB of workgroup storage");
  }
  assert.strictEqual(await acquireDevice(), ctx, "a second call returns the same context");
  const text = describeLimits(ctx!);
  const bytes = limits.maxComputeWorkgroupStorageSize;
  assert.match(
    text,
    new RegExp(`maxComputeWorkgroupStorageSize +[\\d.]+ KiB \\(${bytes} bytes\\)`),
  );
  assert.match(text, /^adapter: \S/);
});

gpuTest("y = 2x + 1 runs through the pipeline cache and buffer pool", async ({ device }) => {
  const cache = new PipelineCache(device);
  const pool = new BufferPool(device);
  const n = 1000;
  const x = Float32Array.from({ length: n }, (_, i) => i - 500.25);

  // Two "retrieve calls": the second must reuse both the pipeline and the buffers.
  for (let call = 0; call < 2; call++) {
    const p = await cache.get("affine", () => AFFINE);
    const xs = pool.acquire(n * 4);
    const ys = pool.acquire(n * 4);
    writeF32(device, xs.buffer, x);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, makeBindGroup(device, p.bindGroupLayout(0), [xs, ys]));
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    const [y] = await readback(device, [ys], enc); // same submission as the dispatch
    assert.equal(y.length, n, "the lease's size, not the pooled buffer's capacity");
    for (let i = 0; i < n; i++) assert.equal(y[i], 2 * x[i] + 1, `y[${i}]`);
    pool.release(xs);
    pool.release(ys);
  }
  assert.deepEqual(pool.stats, { created: 2, reused: 2 });
  assert.deepEqual(cache.stats, { builds: 1, hits: 1 });
  assert.throws(() =>
    pool.release({ buffer: device.createBuffer({ size: 4, usage: 128 }), size: 4 })
  );
  pool.destroy();
});

gpuTest("the cache builds once per key and returns the same pipeline", async ({ device }) => {
  const cache = new PipelineCache(device);
  let builds = 0;
  const build = () => (builds++, AFFINE);
  const [a, b] = await Promise.all([cache.get("k", build), cache.get("k", build)]);
  const c = await cache.get("k", build);
  assert.equal(builds, 1);
  assert.strictEqual(a, b);
  assert.strictEqual(a.pipeline, c.pipeline);
  assert.strictEqual(a.bindGroupLayout(0), c.bindGroupLayout(0));
  const other = await cache.get("k2", () => AFFINE);
  assert.notStrictEqual(other.pipeline, a.pipeline);
  assert.equal(builds, 1);
});

gpuTest("a shader that does not compile throws with the WGSL line", async ({ device }) => {
  const cache = new PipelineCache(device);
  const code = AFFINE.code.replace("2.0 * x[g.x]", "2.0 * x[g.x] +");
  const err = await cache.get("bad", () => ({ ...AFFINE, code })).catch((e) => e);
  assert.ok(err instanceof ShaderCompileError, String(err));
  assert.match(err.message, /^bad:5:\d+: error: /m);
  assert.match(err.message, /y\[g\.x\] = 2\.0 \* x\[g\.x\] \+ \+ 1\.0;/, "quotes the WGSL line");
  assert.match(err.message, /\n\s+\^/, "a caret under the column");
  assert.equal(cache.has("bad"), false, "failures are not cached");
});

gpuTest("explicit bind group layouts work too", async ({ device }) => {
  const cache = new PipelineCache(device);
  const p = await cache.get("affine-explicit", () => ({
    ...AFFINE,
    layout: [[
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } },
    ]],
  }));
  const xs = uploadF32(device, new Float32Array([1, 2, 3, 4]));
  const ys = uploadF32(device, new Float32Array(4));
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p.pipeline);
  pass.setBindGroup(0, makeBindGroup(device, p.bindGroupLayout(0), [xs, ys]));
  pass.dispatchWorkgroups(1);
  pass.end();
  const [y] = await readback(device, [ys], enc);
  assert.deepEqual([...y], [3, 5, 7, 9]);
  xs.destroy();
  ys.destroy();
});

gpuTest("readback fetches several buffers (and ranges) in one call", async ({ device }) => {
  const a = uploadF32(device, new Float32Array([1, 2, 3]));
  const b = uploadF32(device, Float32Array.from({ length: 1001 }, (_, i) => -i));
  const t0 = performance.now();
  const [ra, rb, rc] = await readback(device, [a, b, { buffer: b, offset: 4 * 1000, size: 4 }]);
  const ms = performance.now() - t0;
  assert.deepEqual([...ra], [1, 2, 3]);
  assert.equal(rb.length, 1001);
  assert.equal(rb[1000], -1000);
  assert.deepEqual([...rc], [-1000]);
  // One map round trip (~11 ms on llvmpipe), not three; generous bound against a loaded machine.
  assert.ok(ms < 1000, `${ms} ms`);
  a.destroy();
  b.destroy();
});

// --- validation -------------------------------------------------------------------------------

const GOOD = AFFINE.code;
const SYNTAX = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  x[g.x] = 2.0 * x[g.x] + ;
}`;
const workgroupStorage = (floats: number) =>
  `var<workgroup> t: array<f32, ${floats}>;
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {
  t[i] = x[i];
  workgroupBarrier();
  x[i] = t[63u - i];
}`;
const NON_UNIFORM_BARRIER = `var<workgroup> t: array<f32, 64>;
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {
  if (x[i] > 0.0) { t[i] = x[i]; workgroupBarrier(); }
  x[i] = t[63u - i];
}`;

const errors = (ms: Message[], compiler: Message["compiler"]) =>
  ms.filter((m) => m.compiler === compiler && m.severity === "error");

gpuTest("validate: a good shader has no messages from either compiler", async ({ device }) => {
  assert.deepEqual(await validateBoth(device, GOOD), []);
});

gpuTest("validate: a syntax error is caught by both, with its line", async ({ device }) => {
  const ms = await validateBoth(device, SYNTAX);
  for (const compiler of ["naga", "tint"] as const) {
    const [e, ...rest] = errors(ms, compiler);
    assert.ok(e, `${compiler} reports the error`);
    assert.equal(rest.length, 0, `${compiler} reports it once: ${JSON.stringify(ms)}`);
    assert.equal(e.line, 3);
    assert.equal(e.col, 27);
  }
  assert.equal(errors(ms, "naga")[0].text, 'expected expression, found ";"; expected expression');
  assert.equal(errors(ms, "tint")[0].text, "unable to parse right side of + expression");
});

gpuTest("validate: workgroup storage over the device limit is caught by Tint", async (c) => {
  const over = workgroupStorage(c.limits.maxComputeWorkgroupStorageSize / 4 + 1024);
  const [tint] = errors(await validateTint(over, { limits: c.device.limits }), "tint");
  assert.ok(tint);
  assert.match(
    tint.text,
    /total use of workgroup storage \(\d+ bytes\) is larger than the maximum/,
  );
  // Also with only the shorthand option, and with no limits (WebGPU defaults) at all.
  const opts = { workgroupStorageLimit: c.limits.maxComputeWorkgroupStorageSize };
  assert.equal(errors(await validateTint(over, opts), "tint").length, 1);
  assert.equal(errors(await validateTint(over), "tint").length, 1);
});

gpuTest("validate: storage within the device limit but over WebGPU's default warns", async (c) => {
  if (c.limits.maxComputeWorkgroupStorageSize < 20480) return; // an adapter with less to give
  const code = workgroupStorage(5120); // 20 KiB: over 16 KiB, within our 32 KiB
  assert.deepEqual(await validateNaga(c.device, code), []);
  const tint = await validateTint(code, { limits: c.device.limits });
  assert.deepEqual(tint.map((m) => m.severity), ["warning"]);
  assert.match(tint[0].text, /\(20480 bytes\).*within this device's/);
  assert.equal(errors(await validateTint(code), "tint").length, 1, "an error for default limits");
});

gpuTest("validate: a barrier in non-uniform control flow is caught by Tint only", async (c) => {
  const ms = await validateBoth(c.device, NON_UNIFORM_BARRIER);
  const [tint] = errors(ms, "tint");
  assert.ok(tint);
  assert.equal(tint.text, "'workgroupBarrier' must only be called from uniform control flow");
  assert.equal(tint.line, 4);
  assert.equal(tint.col, 34);
  // Tint explains why with info notes that carry places too.
  assert.ok(ms.some((m) => m.compiler === "tint" && m.severity === "info" && m.line === 4));
  // Documents naga's gap (why Tint is run at all): if naga starts catching it, update this.
  assert.deepEqual(errors(ms, "naga"), []);
});
