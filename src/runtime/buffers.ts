// GPU buffer helpers for the retrieval runtime: uploading f32 data, a pool that lets repeated
// `retrieve` calls reuse their storage buffers, and a readback that fetches several results at once.
//
// Why one readback per call: every `mapAsync` (and `onSubmittedWorkDone`) is a round trip to the
// device that costs about 11 ms on Mesa llvmpipe even when the buffer is tiny, while several maps
// awaited together or one map of a larger buffer cost the same single round trip. `readback`
// therefore copies all requested buffers into ONE staging buffer in ONE command submission (the
// same submission as the compute passes when the caller passes its encoder) and maps it once.
//
// Why a pool: creating and freeing buffers per call churns driver memory; buffers are instead kept
// by power-of-two size class. A pooled buffer may be larger than asked for, so a lease carries the
// requested `size` and is itself a GPUBufferBinding: bind the lease, not the bare buffer, so that
// `arrayLength()` in WGSL sees the logical length.

export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/** Buffer sizes, offsets and mapped ranges must be multiples of 4 (copies) or 8 (map offsets). */
function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Deno's `writeBuffer` typing wants a Float32Array over a plain ArrayBuffer; a view over a
 * SharedArrayBuffer (or a generic ArrayBufferLike) is copied first.
 */
function plainF32(data: Float32Array): Float32Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer
    ? data as Float32Array<ArrayBuffer>
    : new Float32Array(data) as Float32Array<ArrayBuffer>;
}

/** A new buffer holding `data` (written at creation, no queue round trip). */
export function uploadF32(
  device: GPUDevice,
  data: Float32Array,
  usage: GPUBufferUsageFlags = STORAGE_USAGE,
  label?: string,
): GPUBuffer {
  const buffer = device.createBuffer({
    label,
    size: alignUp(Math.max(data.byteLength, 4), 4),
    usage,
    mappedAtCreation: true,
  });
  new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
  buffer.unmap();
  return buffer;
}

/** Write `data` into an existing buffer at a byte offset (queued; ordered before later submits). */
export function writeF32(
  device: GPUDevice,
  buffer: GPUBuffer,
  data: Float32Array,
  byteOffset = 0,
): void {
  device.queue.writeBuffer(buffer, byteOffset, plainF32(data));
}

/** A buffer lent by a BufferPool; usable directly as a bind group resource. */
export interface PooledBuffer extends GPUBufferBinding {
  readonly buffer: GPUBuffer;
  /** The size that was asked for (bytes, rounded up to 4), not the buffer's capacity. */
  readonly size: number;
}

/** Storage buffers kept by power-of-two size class, reused across calls. */
export class BufferPool {
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #leased = new Set<GPUBuffer>();
  /** How many buffers were created and how many acquisitions reused one. */
  readonly stats = { created: 0, reused: 0 };

  constructor(
    readonly device: GPUDevice,
    readonly usage: GPUBufferUsageFlags = STORAGE_USAGE,
    /** The smallest size class in bytes. */
    readonly minClass = 256,
  ) {}

  /** The capacity a request of `bytes` is served with. */
  sizeClass(bytes: number): number {
    const size = alignUp(Math.max(bytes, 4), 4);
    const pow2 = Math.max(this.minClass, 2 ** Math.ceil(Math.log2(size)));
    // Near the limit, a power of two could exceed what the device allows: use the exact size.
    return pow2 <= this.device.limits.maxBufferSize ? pow2 : size;
  }

  acquire(bytes: number, label?: string): PooledBuffer {
    const size = alignUp(Math.max(bytes, 4), 4);
    const cls = this.sizeClass(size);
    let buffer = this.#free.get(cls)?.pop();
    if (buffer) {
      this.stats.reused++;
    } else {
      buffer = this.device.createBuffer({ label, size: cls, usage: this.usage });
      this.stats.created++;
    }
    this.#leased.add(buffer);
    return { buffer, size };
  }

  /** Return a lease to the pool. The buffer must no longer be used by unsubmitted work. */
  release(lease: PooledBuffer): void {
    if (!this.#leased.delete(lease.buffer)) {
      throw new Error("BufferPool.release: buffer is not leased from this pool (double release?)");
    }
    const list = this.#free.get(lease.buffer.size) ?? [];
    list.push(lease.buffer);
    this.#free.set(lease.buffer.size, list);
  }

  /** Destroy the pooled (free) buffers; leased buffers stay with their holders. */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }

  /** Destroy every buffer the pool created, leased or not. */
  destroy(): void {
    this.trim();
    for (const b of this.#leased) b.destroy();
    this.#leased.clear();
  }
}

/** What to read: a whole buffer, or a range of one (bytes; offset and size multiples of 4). */
export type ReadSource = GPUBuffer | GPUBufferBinding;

/**
 * Copy every source into one staging buffer in one submission and map it once; returns a copy of
 * each source's bytes. If `encoder` is given the copies are appended to it and it is finished and
 * submitted here, so compute work and readback share a single submission.
 */
export async function readbackBytes(
  device: GPUDevice,
  sources: readonly ReadSource[],
  encoder?: GPUCommandEncoder,
): Promise<ArrayBuffer[]> {
  const ranges = sources.map((s) => {
    const binding: GPUBufferBinding = "buffer" in s ? s : { buffer: s };
    const offset = binding.offset ?? 0;
    const size = binding.size ?? binding.buffer.size - offset;
    return { buffer: binding.buffer, offset, size };
  });
  let total = 0;
  const at = ranges.map((r) => {
    const start = total;
    total += alignUp(r.size, 8);
    return start;
  });
  const staging = device.createBuffer({
    label: "hopc readback",
    size: Math.max(total, 8),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const enc = encoder ?? device.createCommandEncoder({ label: "hopc readback" });
    ranges.forEach((r, i) => enc.copyBufferToBuffer(r.buffer, r.offset, staging, at[i], r.size));
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const mapped = staging.getMappedRange();
    return ranges.map((r, i) => mapped.slice(at[i], at[i] + r.size));
  } finally {
    staging.destroy(); // also unmaps
  }
}

/** `readbackBytes`, viewing each result as f32. */
export async function readback(
  device: GPUDevice,
  sources: readonly ReadSource[],
  encoder?: GPUCommandEncoder,
): Promise<Float32Array[]> {
  return (await readbackBytes(device, sources, encoder)).map((b) => new Float32Array(b));
}
