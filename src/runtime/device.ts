// The one WebGPU device of a hopc process. Acquiring a device is slow (an adapter probe plus device
// creation) and every kernel, buffer and pipeline cache is tied to the device it was made on, so
// the process keeps exactly one and hands the same context to every caller.
//
// The default device WebGPU gives out only has the spec's baseline limits (16 KiB of workgroup
// storage, 256 invocations per workgroup), well below what adapters offer (32 KiB and 1024 on Mesa
// llvmpipe), so we request the adapter's maximum for every limit the code generator plans with and
// report the limits the device actually has. Optional features (f16, subgroups, timestamps) are
// requested only where the adapter offers them; the compiler must check `features` before using
// one. Device loss and uncaptured errors are printed to stderr: WebGPU otherwise drops them.
import { NoAdapterError } from "../diagnostics.ts";
import { denoRuntime } from "../host/deno.ts";

/** The limits the compiler plans kernels with, as granted to our device. */
export interface DeviceLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
  maxUniformBufferBindingSize: number;
}

export const LIMIT_NAMES: readonly (keyof DeviceLimits)[] = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupsPerDimension",
  "maxUniformBufferBindingSize",
];

/** Also raised to the adapter's maximum so that workgroup shapes like 32×32 are allowed. */
const EXTRA_LIMITS = ["maxComputeWorkgroupSizeY", "maxComputeWorkgroupSizeZ"] as const;

/** Optional features hopc can use; each is requested only if the adapter has it. */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = [
  "shader-f16",
  "subgroups",
  "timestamp-query",
];

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** One line naming the adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [fallback adapter]". */
  info: string;
  /** The optional features enabled on the device. */
  features: ReadonlySet<string>;
  limits: DeviceLimits;
}

const NO_ADAPTER_HELP = "no WebGPU adapter is available. On Linux without a GPU, install Mesa's " +
  "software drivers (Debian/Ubuntu: `apt-get install -y libgl1-mesa-dri libegl-mesa0` for GL " +
  "llvmpipe, or `mesa-vulkan-drivers libvulkan1` for Vulkan lavapipe); or run with " +
  "`--device cpu` to use the float64 reference interpreter.";

let cached: Promise<GpuContext | null> | undefined;
/** The device `cached` resolved to, so a late `lost` of an older device does not clear the cache. */
let cachedDevice: GPUDevice | undefined;

/**
 * The process's device, created on first call with the adapter's maximum limits.
 * With `required: false` (for `--device auto`) a missing adapter gives null instead of throwing.
 */
export function acquireDevice(opts?: { required?: true }): Promise<GpuContext>;
export function acquireDevice(opts: { required: boolean }): Promise<GpuContext | null>;
export async function acquireDevice(
  opts: { required?: boolean } = {},
): Promise<GpuContext | null> {
  cached ??= createContext().catch((e) => {
    cached = undefined; // a failed attempt is not cached, so a later call may retry
    throw e;
  });
  const ctx = await cached;
  if (ctx === null && opts.required !== false) throw new NoAdapterError(NO_ADAPTER_HELP);
  return ctx;
}

async function createContext(): Promise<GpuContext | null> {
  quietMesa();
  // `navigator.gpu` is missing where WebGPU is not built in; an adapter probe can also throw.
  const gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (!adapter) return null;

  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of [...LIMIT_NAMES, ...EXTRA_LIMITS]) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: "hopc" });
  installErrorHandlers(device);
  cachedDevice = device;

  const limits = {} as DeviceLimits;
  for (const name of LIMIT_NAMES) limits[name] = device.limits[name];
  return {
    adapter,
    device,
    info: describeAdapter(adapter.info),
    features: new Set(requiredFeatures.filter((f) => device.features.has(f))),
    limits,
  };
}

/** Destroy the process's device (if any); the next acquireDevice creates a new one. */
export async function releaseDevice(): Promise<void> {
  const pending = cached;
  cached = undefined;
  cachedDevice = undefined;
  const ctx = await pending?.catch(() => null);
  ctx?.device.destroy();
}

function installErrorHandlers(device: GPUDevice): void {
  device.addEventListener("uncapturederror", (event) => {
    const err = (event as GPUUncapturedErrorEvent).error;
    // Deno leaves `message` undefined on some errors (GPUInternalError); print the kind at least.
    console.error(
      `hopc: uncaptured WebGPU ${err.constructor.name}: ${err.message ?? "(no message)"}`,
    );
  });
  device.lost.then((info) => {
    if (cachedDevice === device) {
      cached = undefined; // the next acquireDevice makes a new device
      cachedDevice = undefined;
    }
    if (info.reason !== "destroyed") {
      console.error(`hopc: WebGPU device lost (${info.reason}): ${info.message}`);
    }
  });
}

/** One line naming an adapter from its info (description, else vendor and architecture). */
export function describeAdapter(info: GPUAdapterInfo): string {
  const name = info.description ||
    [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") || "unknown adapter";
  // `isFallbackAdapter` is newer than some type definitions; read it defensively.
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return fallback ? `${name} [fallback adapter]` : name;
}

/** A readable summary of the device for `hopc explain`. */
export function describeLimits(ctx: GpuContext): string {
  const features = [...ctx.features].sort();
  const lines = [
    `adapter: ${ctx.info}`,
    `features: ${features.length > 0 ? features.join(", ") : "none"}`,
    "limits:",
  ];
  const width = Math.max(...LIMIT_NAMES.map((n) => n.length));
  for (const name of LIMIT_NAMES) {
    const value = ctx.limits[name];
    const bytes = /Size$/.test(name); // the byte sizes; workgroup sizes end in X
    lines.push(`  ${name.padEnd(width)}  ${bytes ? formatBytes(value) : String(value)}`);
  }
  return lines.join("\n");
}

function formatBytes(n: number): string {
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit} (${n} bytes)`;
    }
  }
  return `${n} bytes`;
}

/**
 * Mesa prints "XDG_RUNTIME_DIR is invalid or not set" when creating an adapter without it; give it
 * a private folder (where the permissions allow) so a user's terminal shows only hopc's output.
 */
function quietMesa(): void {
  const deno = denoRuntime(); // a browser has no Mesa to quiet
  if (!deno) return;
  try {
    if (!deno.env.get("XDG_RUNTIME_DIR")) {
      deno.env.set("XDG_RUNTIME_DIR", deno.makeTempDirSync({ prefix: "hopc-xdg-" }));
    }
  } catch {
    // Without --allow-env or --allow-write the message stays; it is harmless.
  }
}
