// Copied by hopc from src/runtime/blocked/values.ts. Do not edit.
// Hetero-association on the GPU (src/extras.ts): the readout of the final weights from values V
// [M, Dv] apart from the keys, out = V^T p, one extra pass after the last step in the same
// submission. One invocation per (query, value column); the M rows are taken in ranges of at most
// the plan's loop budget per dispatch (each dispatch adds its range to `out`), so no invocation
// runs more loop iterations than the adapter allows. Self-contained (see ./types.ts).
import { PlanError } from "./plan.ts";

const WG = 64;

export const VALUES_WGSL =
  `// out[b, j] (+)= sum over rows row0..row0+rows of weights[b, i] * values[i, j]
struct VShape { B: u32, M: u32, Dv: u32, row0: u32, rows: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<uniform> vs: VShape;
@group(0) @binding(1) var<storage, read> weights: array<f32>;       // [B, M]
@group(0) @binding(2) var<storage, read> values: array<f32>;        // [M, Dv]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;     // [B, Dv]
@compute @workgroup_size(${WG})
fn values_readout(@builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) grid: vec3<u32>) {
  let t = gid.x + gid.y * grid.x * ${WG}u;
  if (t >= vs.B * vs.Dv) { return; }
  let b = t / vs.Dv;
  let j = t % vs.Dv;
  var acc = select(0.0, out[t], vs.row0 > 0u);
  for (var i = vs.row0; i < vs.row0 + vs.rows; i = i + 1u) {
    let w = weights[b * vs.M + i];
    if (w != 0.0) { acc = acc + w * values[i * vs.Dv + j]; }  // sparse maps skip their zeros
  }
  out[t] = acc;
}
`;

const pipelines = new WeakMap<GPUDevice, Promise<GPUComputePipeline>>();

function pipeline(device: GPUDevice): Promise<GPUComputePipeline> {
  let p = pipelines.get(device);
  if (!p) {
    const module = device.createShaderModule({ label: "hopc values", code: VALUES_WGSL });
    p = device.createComputePipelineAsync({
      label: "hopc values_readout",
      layout: "auto",
      compute: { module, entryPoint: "values_readout" },
    });
    pipelines.set(device, p);
  }
  return p;
}

/** Values uploaded once per array (the caller's same array object is not uploaded again). */
export class ValuesReadout {
  #uploaded = new WeakMap<object, GPUBuffer>();
  #buffers: GPUBuffer[] = [];
  constructor(readonly device: GPUDevice, readonly binding: number, readonly budget: number) {}

  /** The device buffer of V (checked against one storage binding: it is never split). */
  values(data: ArrayLike<number>, M: number, Dv: number): GPUBuffer {
    if (!(Dv >= 1 && data.length === M * Dv)) {
      throw new RangeError(`values must be M x Dv = ${M} x ${Dv} numbers, got ${data.length}`);
    }
    const bytes = M * Dv * 4;
    if (bytes > this.binding) {
      throw new PlanError(
        `the values [${M}, ${Dv}] need ${bytes} bytes, over the storage binding limit of ${this.binding} (values are not split across bindings)`,
        "use fewer value columns, or --device cpu",
      );
    }
    const key = data as unknown as object;
    let b = this.#uploaded.get(key);
    if (!b) {
      b = this.device.createBuffer({
        label: "hopc values",
        size: Math.max(16, Math.ceil(bytes / 16) * 16),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(b, 0, Float32Array.from(data));
      this.#uploaded.set(key, b);
      this.#buffers.push(b);
    }
    return b;
  }

  /** Encodes out = V^T weights (weights [B, M] on the device) as its own compute pass. */
  async encode(
    encoder: GPUCommandEncoder,
    weights: GPUBuffer,
    values: GPUBuffer,
    out: GPUBuffer,
    B: number,
    M: number,
    Dv: number,
    maxWorkgroups: number,
  ): Promise<GPUBuffer> {
    if (B * Dv * 4 > this.binding) {
      throw new PlanError(
        `the value readouts of ${B} queries need ${
          B * Dv * 4
        } bytes, over the storage binding limit of ${this.binding}`,
        "retrieve fewer queries per call",
      );
    }
    const pipe = await pipeline(this.device);
    const per = Math.max(1, this.budget - 8);
    const ranges: [number, number][] = [];
    for (let row0 = 0; row0 < M; row0 += per) ranges.push([row0, Math.min(per, M - row0)]);
    const uniform = this.device.createBuffer({
      label: "hopc values shape",
      size: ranges.length * 256,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const data = new Uint32Array(ranges.length * 64);
    ranges.forEach(([row0, rows], k) => data.set([B, M, Dv, row0, rows], k * 64));
    this.device.queue.writeBuffer(uniform, 0, data);
    const groups = Math.ceil(B * Dv / WG);
    const pass = encoder.beginComputePass({ label: "hopc values readout" });
    pass.setPipeline(pipe);
    ranges.forEach((_, k) => {
      pass.setBindGroup(
        0,
        this.device.createBindGroup({
          layout: pipe.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: uniform, offset: k * 256, size: 32 } },
            { binding: 1, resource: { buffer: weights } },
            { binding: 2, resource: { buffer: values } },
            { binding: 3, resource: { buffer: out } },
          ],
        }),
      );
      pass.dispatchWorkgroups(Math.min(groups, maxWorkgroups), Math.ceil(groups / maxWorkgroups));
    });
    pass.end();
    return uniform; // the caller destroys it once the submission is done
  }

  destroy() {
    for (const b of this.#buffers) b.destroy();
    this.#buffers = [];
  }
}
