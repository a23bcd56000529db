// Validation of generated WGSL by the two shader compilers that matter: naga (inside Deno's
// WebGPU, which runs our kernels) and Tint (inside Chrome's Dawn, where exported kernels run).
// They disagree: naga accepts two things Tint rejects, and a kernel that passes only naga would
// break in the browser. Measured here (Deno 2.9.6, npm:webgpu@0.6.2 null backend):
//
// | shader                                  | naga (Deno)                        | Tint (null backend)
// |-----------------------------------------|------------------------------------|--------------------
// | syntax / type error                     | error with line:col                | error with line:col
// | workgroup storage over the device limit | accepted by naga; on llvmpipe the  | pipeline error:
// |                                         | GL driver fails the pipeline with  | "The total use of
// |                                         | a GPUInternalError whose message   | workgroup storage (N
// |                                         | Deno leaves undefined              | bytes) is larger ..."
// | workgroupBarrier() in non-uniform flow  | accepted, no message               | error + notes
// | `enable subgroups;` / `enable f16;`      | error: not supported (subgroups    | accepted: our Tint
// |                                         | never; f16 only on a device with   | device enables both
// |                                         | shader-f16, which llvmpipe lacks)  | features
//
// Tint runs with no GPU through Dawn's null backend (`create(["backend=null"])`). That adapter
// offers only WebGPU's default limits (16 KiB workgroup storage, 256 invocations, 8 storage
// buffers), lower than our device's, and cannot be raised. So Tint checks against the portable
// baseline any browser grants, and a limit error whose value is within the limits passed in is
// reported as a warning ("would not run on a browser that grants only the defaults") rather than an
// error. Dawn stops at the first pipeline-level error, so checks after such a limit error (e.g. the
// workgroup-storage check after a workgroup-size one) are skipped; validateBoth's naga half still
// catches an over-limit pipeline on llvmpipe through the driver's internal error.
import { compilerText } from "./pipelines.ts";

/** One message from one compiler; line and col (1-based) where the compiler gave a place. */
export interface Message {
  compiler: "naga" | "tint";
  severity: "error" | "warning" | "info";
  text: string;
  line?: number;
  col?: number;
}

/** Limits that Tint's checks are judged against (names as in GPUSupportedLimits). */
export type TintLimits = Partial<
  Record<
    | "maxComputeWorkgroupStorageSize"
    | "maxComputeInvocationsPerWorkgroup"
    | "maxComputeWorkgroupSizeX"
    | "maxComputeWorkgroupSizeY"
    | "maxComputeWorkgroupSizeZ"
    | "maxStorageBuffersPerShaderStage",
    number
  >
>;

export interface ValidateOptions {
  /** The compute entry point; omitted, the module's only compute entry point is used. */
  entryPoint?: string;
}

export interface TintOptions extends ValidateOptions {
  /** The device limits the kernel is meant for; default: WebGPU's default limits. */
  limits?: TintLimits;
  /** Shorthand for limits.maxComputeWorkgroupStorageSize. */
  workgroupStorageLimit?: number;
}

/** Validate with naga on `device` (the device's own limits apply at pipeline creation). */
export async function validateNaga(
  device: GPUDevice,
  code: string,
  opts: ValidateOptions = {},
): Promise<Message[]> {
  return await check(device, "naga", code, opts.entryPoint);
}

interface TintGpu {
  gpu: GPU;
  device: GPUDevice;
}

/**
 * The Dawn instance and device, created on first use and kept for the process's lifetime: Dawn's
 * GPU object can crash the process when it is garbage-collected while devices still exist.
 */
let tint: Promise<TintGpu> | undefined;

function tintGpu(): Promise<TintGpu> {
  tint ??= (async () => {
    // Loaded on demand: it is a 21 MB native addon that only validation needs.
    const { create } = await import("webgpu");
    const gpu = create(["backend=null"]);
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error("npm:webgpu (Dawn, null backend) gave no adapter");
    // Ask for the adapter's maximum of each limit (today exactly WebGPU's defaults).
    const requiredLimits: Record<string, number> = {};
    for (const name of LIMIT_KEYS) requiredLimits[name] = adapter.limits[name];
    // Enable f16 and subgroups where Dawn has them, so kernels that `enable` them are checked
    // rather than rejected (naga, on our device, still rejects what the device cannot run).
    const requiredFeatures = TINT_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits,
      label: "tint validation",
    });
    device.addEventListener("uncapturederror", (e) => {
      console.error(`hopc: uncaptured Tint error: ${(e as GPUUncapturedErrorEvent).error.message}`);
    });
    return { gpu, device };
  })();
  return tint;
}

const TINT_FEATURES: GPUFeatureName[] = ["shader-f16", "subgroups"];

const LIMIT_KEYS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxStorageBuffersPerShaderStage",
] as const;

/** Validate with Tint (Dawn's null backend, no GPU needed). */
export async function validateTint(code: string, opts: TintOptions = {}): Promise<Message[]> {
  const { device } = await tintGpu();
  // Copied by name: GPUSupportedLimits keeps its values in getters, which a spread would miss.
  const limits: TintLimits = {};
  for (const name of LIMIT_KEYS) {
    const value = opts.limits?.[name];
    if (value !== undefined) limits[name] = value;
  }
  if (opts.workgroupStorageLimit !== undefined) {
    limits.maxComputeWorkgroupStorageSize = opts.workgroupStorageLimit;
  }
  const messages = await check(device, "tint", code, opts.entryPoint);
  return messages.map((m) => m.line === undefined ? judgeLimit(m, limits) : m);
}

/** Both compilers, Tint judged against `device`'s limits: naga's messages first, then Tint's. */
export async function validateBoth(
  device: GPUDevice,
  code: string,
  opts: ValidateOptions = {},
): Promise<Message[]> {
  const [naga, tint] = await Promise.all([
    validateNaga(device, code, opts),
    validateTint(code, { ...opts, limits: device.limits }),
  ]);
  return [...naga, ...tint];
}

/**
 * createShaderModule + getCompilationInfo, then (if the module compiled) createComputePipeline
 * with an 'auto' layout inside validation and internal error scopes. Module creation is scoped
 * too, so an invalid module is reported once, from getCompilationInfo, not as an uncaptured error.
 */
async function check(
  device: GPUDevice,
  compiler: Message["compiler"],
  code: string,
  entryPoint: string | undefined,
): Promise<Message[]> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const moduleError = device.popErrorScope();
  const info = await module.getCompilationInfo();
  await moduleError; // same error as the compilation messages
  const out: Message[] = info.messages.map((m) => ({
    compiler,
    severity: m.type,
    text: compilerText(m.message),
    ...(m.lineNum > 0 ? { line: m.lineNum, col: m.linePos } : {}),
  }));
  if (out.some((m) => m.severity === "error")) return out;

  device.pushErrorScope("validation");
  device.pushErrorScope("internal");
  device.createComputePipeline({ layout: "auto", compute: { module, entryPoint } });
  const internal = device.popErrorScope();
  const validation = device.popErrorScope();
  for (const err of [await validation, await internal]) {
    if (!err) continue;
    const text = err.message === undefined
      ? `${err.constructor.name} without a message: the backend driver rejected the pipeline`
      : compilerText(err.message);
    out.push({ compiler, severity: "error", text });
  }
  return out;
}

/** Downgrade a Tint limit error to a warning when the value is within the caller's limits. */
function judgeLimit(m: Message, limits: TintLimits): Message {
  const within = (name: keyof TintLimits, value: number) =>
    limits[name] !== undefined && value <= limits[name];
  let ok: string | undefined;

  const storage = /workgroup storage \((\d+) bytes\) is larger than the maximum allowed/.exec(
    m.text,
  );
  const invocations = /workgroup invocations \((\d+)\) exceeds the maximum allowed/.exec(m.text);
  const size = /workgroup_size\((\d+), (\d+), (\d+)\) that exceeds the maximum allowed/.exec(
    m.text,
  );
  const buffers = /number of storage buffers \((\d+)\) in the Compute stage exceeds/.exec(m.text);
  if (storage && within("maxComputeWorkgroupStorageSize", +storage[1])) {
    ok = `maxComputeWorkgroupStorageSize = ${limits.maxComputeWorkgroupStorageSize}`;
  } else if (invocations && within("maxComputeInvocationsPerWorkgroup", +invocations[1])) {
    ok = `maxComputeInvocationsPerWorkgroup = ${limits.maxComputeInvocationsPerWorkgroup}`;
  } else if (size) {
    const [x, y, z] = size.slice(1).map(Number);
    if (
      within("maxComputeWorkgroupSizeX", x) && within("maxComputeWorkgroupSizeY", y) &&
      within("maxComputeWorkgroupSizeZ", z) &&
      within("maxComputeInvocationsPerWorkgroup", x * y * z)
    ) {
      ok = `maxComputeWorkgroupSize = (${limits.maxComputeWorkgroupSizeX}, ` +
        `${limits.maxComputeWorkgroupSizeY}, ${limits.maxComputeWorkgroupSizeZ}), ` +
        `maxComputeInvocationsPerWorkgroup = ${limits.maxComputeInvocationsPerWorkgroup}`;
    }
  } else if (buffers && within("maxStorageBuffersPerShaderStage", +buffers[1])) {
    ok = `maxStorageBuffersPerShaderStage = ${limits.maxStorageBuffersPerShaderStage}`;
  }
  if (ok === undefined) return m;
  return {
    ...m,
    severity: "warning",
    text: `${m.text} (within this device's ${ok}, but over WebGPU's default limit, so a browser ` +
      `that grants only the defaults rejects it; Tint's later pipeline checks were skipped)`,
  };
}
