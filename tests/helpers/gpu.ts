// The WebGPU context the GPU tests share, and `gpuTest`, which registers a test that is skipped
// (reported as ignored) where there is no adapter.
import { acquireDevice, type GpuContext } from "../../src/runtime/device.ts";

// Mesa complains on stderr without a runtime dir; it reads the variable when the adapter loads.
if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

export const gpuContext: GpuContext | null = await acquireDevice({ required: false });

/** A test that needs the GPU. WebGPU keeps promises (device.lost) and handles open for good. */
export function gpuTest(name: string, fn: (ctx: GpuContext) => Promise<void> | void): void {
  Deno.test({
    name,
    ignore: gpuContext === null,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => fn(gpuContext!),
  });
}
