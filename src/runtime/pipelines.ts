// Compute pipelines, compiled once per key. Shader compilation is the slowest step of a first
// `retrieve` (naga parse and validate plus the driver's own compile), and the same kernel is needed
// again on every later call, so pipelines are cached by a key the code generator chooses (kernel
// name plus every parameter the WGSL text depends on). The build callback runs only on a miss.
//
// A shader that does not compile is a compiler bug, and WebGPU would otherwise only report it
// asynchronously as an "invalid pipeline" later. So `get` awaits getCompilationInfo, wraps pipeline
// creation in error scopes, and throws a ShaderCompileError quoting the offending WGSL lines.

export interface PipelineSpec {
  code: string;
  entryPoint: string;
  /** Bind group layouts, one entry list per group; "auto" (the default) derives them from WGSL. */
  layout?: "auto" | GPUBindGroupLayoutEntry[][];
  /** Values for WGSL `override` constants. */
  constants?: Record<string, number>;
}

export interface CachedPipeline {
  key: string;
  pipeline: GPUComputePipeline;
  module: GPUShaderModule;
  /** The layout of bind group `group` (cached; 'auto' layouts are fetched from the pipeline). */
  bindGroupLayout(group?: number): GPUBindGroupLayout;
}

/** A WGSL module or pipeline that failed to compile; the message quotes the WGSL lines. */
export class ShaderCompileError extends Error {
  constructor(readonly key: string, message: string, readonly code: string) {
    super(message);
    this.name = "ShaderCompileError";
  }
}

export class PipelineCache {
  readonly #entries = new Map<string, Promise<CachedPipeline>>();
  /** Cache misses (pipelines built) and hits. */
  readonly stats = { builds: 0, hits: 0 };

  constructor(readonly device: GPUDevice) {}

  /** The pipeline for `key`, building it with `build()` on first request. */
  get(key: string, build: () => PipelineSpec): Promise<CachedPipeline> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.builds++;
    const entry = this.#create(key, build()).catch((e) => {
      this.#entries.delete(key); // do not keep a failure; a later get retries
      throw e;
    });
    this.#entries.set(key, entry);
    return entry;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }

  async #create(key: string, spec: PipelineSpec): Promise<CachedPipeline> {
    const device = this.device;
    // Scoped so that a bad module is reported once, by the throw below, not also as uncaptured.
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ label: key, code: spec.code });
    const moduleError = device.popErrorScope();
    const info = await module.getCompilationInfo();
    await moduleError;
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      const text = errors.map((m) => formatMessage(key, spec.code, m)).join("\n");
      throw new ShaderCompileError(key, `WGSL of ${key} does not compile:\n${text}`, spec.code);
    }

    const explicit = spec.layout && spec.layout !== "auto"
      ? spec.layout.map((entries, i) =>
        device.createBindGroupLayout({ label: `${key} group ${i}`, entries })
      )
      : undefined;
    // No await between push and pop: the scopes must enclose exactly these calls.
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const pipeline = device.createComputePipeline({
      label: key,
      layout: explicit
        ? device.createPipelineLayout({ label: key, bindGroupLayouts: explicit })
        : "auto",
      compute: { module, entryPoint: spec.entryPoint, constants: spec.constants },
    });
    const internal = device.popErrorScope();
    const validation = device.popErrorScope();
    for (const err of [await validation, await internal]) {
      if (err) {
        // Deno gives some internal errors (e.g. a driver compile failure) no message.
        const what = err.message === undefined
          ? "no message; the backend driver rejected the pipeline"
          : compilerText(err.message);
        throw new ShaderCompileError(
          key,
          `pipeline ${key}: ${err.constructor.name}: ${what}`,
          spec.code,
        );
      }
    }

    const layouts = new Map<number, GPUBindGroupLayout>(explicit?.map((l, i) => [i, l]));
    return {
      key,
      pipeline,
      module,
      bindGroupLayout(group = 0) {
        let layout = layouts.get(group);
        if (!layout) {
          layout = pipeline.getBindGroupLayout(group);
          layouts.set(group, layout);
        }
        return layout;
      },
    };
  }
}

/** A bind group whose binding i is resources[i] (buffers or buffer bindings such as pool leases). */
export function makeBindGroup(
  device: GPUDevice,
  layout: GPUBindGroupLayout,
  resources: readonly (GPUBuffer | GPUBufferBinding)[],
  label?: string,
): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout,
    entries: resources.map((r, binding) => ({
      binding,
      resource: "buffer" in r ? r : { buffer: r },
    })),
  });
}

/** `KEY:LINE:COL: error: MESSAGE`, the WGSL line, and a caret under the span. */
export function formatMessage(key: string, code: string, m: GPUCompilationMessage): string {
  const head = `${key}:${m.lineNum}:${m.linePos}: ${m.type}: ${compilerText(m.message)}`;
  const lineText = m.lineNum > 0 ? code.split(/\r?\n/)[m.lineNum - 1] : undefined;
  if (lineText === undefined) return head;
  const col = Math.max(1, m.linePos);
  const caret = "^".repeat(Math.max(1, Math.min(m.length || 1, lineText.length - col + 1)));
  return `${head}\n  ${lineText}\n  ${" ".repeat(col - 1)}${caret}`;
}

/**
 * One line of text from a compiler message. Tint's messages are one line already (pipeline errors
 * add " - While ..." context lines, dropped); naga's carry a codespan excerpt ("Shader '' parsing
 * error: ...", `│ ^^^ label` lines, `= note` lines), reduced to the headline, labels and notes.
 */
export function compilerText(message: string): string {
  const lines = message.split("\n");
  const first = lines.map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  const head = first.replace(/^Shader (?:'[^']*' )?(parsing|validation) error: /, "");
  const extra: string[] = [];
  for (const line of lines) {
    const label = /^\s*│(.*)$/.exec(line)?.[1].replace(/^[\s│^~-]+/, "").trim();
    if (label && !label.startsWith("naga::")) extra.push(label);
    const note = /^\s*= (.+)$/.exec(line)?.[1].trim();
    if (note) extra.push(note);
  }
  return [head, ...extra].join("; ");
}
