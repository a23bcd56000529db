// The first step of bench/gpu/run.sh: print the WebGPU adapter Deno sees and refuse to go on
// unless it is an NVIDIA GPU, so a device call never spends minutes timing a CPU fallback.
//
//   deno run -A bench/gpu/adapter.ts [--out adapter.json] [--rehearsal]
//
// Exit 0: an NVIDIA adapter, or any adapter with --rehearsal (or HOPC_GPU_REHEARSAL=1);
// exit 3: no adapter, or not an NVIDIA adapter without the rehearsal override.
// Uses navigator.gpu directly (not hopc's runtime): only the adapter is probed, no device made.

export interface AdapterReport {
  found: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  nvidia: boolean;
  backend: string;
  vkDriverFiles: string | null;
  deno: string;
}

/** NVIDIA by name, or by PCI vendor id 0x10de (wgpu reports the id in decimal as the vendor). */
export function isNvidia(info: { vendor?: string; description?: string; device?: string }) {
  const vendor = (info.vendor ?? "").trim().toLowerCase();
  return /nvidia/i.test(info.description ?? "") || /nvidia/.test(vendor) ||
    vendor === "4318" || vendor === "0x10de" || vendor === "10de";
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) {
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  const rehearsal = Deno.args.includes("--rehearsal") || Deno.env.get("HOPC_GPU_REHEARSAL") === "1";
  const out = arg("--out");
  const gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu;
  let adapter: GPUAdapter | null = null;
  let probeError: string | undefined;
  try {
    adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  } catch (e) {
    probeError = e instanceof Error ? e.message : String(e);
  }
  const info = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const report: AdapterReport = {
    found: adapter !== null,
    vendor: info?.vendor,
    architecture: info?.architecture,
    device: info?.device,
    description: info?.description,
    isFallbackAdapter: info?.isFallbackAdapter,
    nvidia: info ? isNvidia(info) : false,
    backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
    vkDriverFiles: Deno.env.get("VK_DRIVER_FILES") ?? null,
    deno: Deno.version.deno,
  };
  console.log(
    `adapter: ${
      report.found
        ? `vendor=${JSON.stringify(report.vendor)} architecture=${
          JSON.stringify(report.architecture)
        } device=${JSON.stringify(report.device)} description=${
          JSON.stringify(report.description)
        }${report.isFallbackAdapter ? " [fallback adapter]" : ""}`
        : `none${probeError ? ` (${probeError})` : ""}`
    }`,
  );
  if (out) await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  if (!report.found) {
    console.error(
      "adapter: STOP: Deno found no WebGPU adapter (is libvulkan.so.1 there, and a Vulkan driver? " +
        "try VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json)",
    );
    Deno.exit(3);
  }
  if (!report.nvidia) {
    if (rehearsal) {
      console.log("adapter: not an NVIDIA GPU; going on because this is a rehearsal");
    } else {
      console.error(
        `adapter: STOP: the adapter is not the NVIDIA GPU (${report.description}); no figures ` +
          "would mean anything. Set HOPC_GPU_REHEARSAL=1 (or pass --rehearsal) to run anyway.",
      );
      Deno.exit(3);
    }
  } else {
    console.log("adapter: NVIDIA GPU found");
  }
}
