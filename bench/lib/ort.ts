// The onnxruntime-web baseline of the benchmark: the softmax retrieval step as a small ONNX graph,
// run by onnxruntime-web's WebGPU execution provider on the same adapter as hopc.
//
//   one step:  S = Gemm(Q, X, alpha = beta, transB = 1)    [B, M]   (S = beta · Q · Xᵀ)
//              P = Softmax(S, axis = -1)                   [B, M]
//              Q' = MatMul(P, X)                           [B, D]
//
// For several steps the three nodes are CHAINED inside one model (Q' feeds the next Gemm), so one
// `session.run` does every step with one upload of Q and one download of the final state, like
// hopc's one submission and one readback per call. X is a graph initializer: it is uploaded once,
// when the session is created, as hopc uploads the memories once in `load`.
//
// The ONNX protobuf is written by hand (a few message types of onnx.proto3, no dependency), see
// `buildRetrievalOnnx`. The onnxruntime-web package is imported lazily so that the rest of the
// benchmark runs when it is missing: `createOrtRetrieval` then throws `OrtUnavailable` with the
// reason, and the benchmark prints it instead of failing.

/** Minimal protobuf writer: just what onnx.proto3 needs (varint, fixed32, length-delimited). */
class ProtoWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  #push(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  #varint(value: number | bigint): void {
    let v = BigInt(value);
    if (v < 0n) v = BigInt.asUintN(64, v); // negative int64: ten-byte two's complement
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.#push(Uint8Array.from(out));
  }

  #tag(field: number, wireType: 0 | 2 | 5): void {
    this.#varint((field << 3) | wireType);
  }

  int(field: number, value: number): this {
    this.#tag(field, 0);
    this.#varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.#tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    this.#push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

// Field numbers and enums of onnx.proto3 (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto3).
const ONNX = {
  model: { irVersion: 1, producerName: 2, graph: 7, opsetImport: 8 },
  opset: { domain: 1, version: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, f: 2, i: 3, type: 20 },
  attributeType: { FLOAT: 1, INT: 2 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1 },
  FLOAT: 1,
} as const;

type Attribute = { name: string; f: number } | { name: string; i: number };

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Attribute[];
}

function writeNode(w: ProtoWriter, n: NodeSpec, name: string): void {
  for (const i of n.inputs) w.string(ONNX.node.input, i);
  for (const o of n.outputs) w.string(ONNX.node.output, o);
  w.string(ONNX.node.name, name);
  w.string(ONNX.node.opType, n.op);
  for (const a of n.attributes ?? []) {
    w.message(ONNX.node.attribute, (aw) => {
      aw.string(ONNX.attribute.name, a.name);
      if ("f" in a) {
        aw.float(ONNX.attribute.f, a.f);
        aw.int(ONNX.attribute.type, ONNX.attributeType.FLOAT);
      } else {
        aw.int(ONNX.attribute.i, a.i);
        aw.int(ONNX.attribute.type, ONNX.attributeType.INT);
      }
    });
  }
}

function writeValueInfo(w: ProtoWriter, name: string, dims: number[]): void {
  w.string(ONNX.valueInfo.name, name);
  w.message(ONNX.valueInfo.type, (tw) =>
    tw.message(ONNX.type.tensorType, (tt) => {
      tt.int(ONNX.tensorType.elemType, ONNX.FLOAT);
      tt.message(ONNX.tensorType.shape, (sw) => {
        for (const d of dims) sw.message(ONNX.shape.dim, (dw) => dw.int(ONNX.dim.value, d));
      });
    }));
}

export interface RetrievalOnnxSpec {
  /** Memories, M x D, row-major float32. Stored in the model as the initializer `X`. */
  X: Float32Array;
  M: number;
  D: number;
  /** Queries per call (the input `Q` is [B, D]; fixed so every shape is static). */
  B: number;
  beta: number;
  /** Retrieval steps chained inside the graph (1 or more). */
  steps: number;
}

/** Names of the graph's input and output. */
export const ORT_INPUT = "Q";
export const ORT_OUTPUT = "Q_out";

/**
 * An ONNX model (ModelProto bytes, IR version 8, opset 17) running `steps` softmax retrieval
 * steps: per step Gemm(alpha = beta, transB = 1) -> Softmax(axis = -1) -> MatMul with X.
 */
export function buildRetrievalOnnx(spec: RetrievalOnnxSpec): Uint8Array {
  const { X, M, D, B, beta, steps } = spec;
  if (X.length !== M * D) throw new Error(`X has ${X.length} values, expected M·D = ${M * D}`);
  if (!(steps >= 1)) throw new Error(`steps must be at least 1, got ${steps}`);
  const nodes: NodeSpec[] = [];
  let state = ORT_INPUT;
  for (let t = 1; t <= steps; t++) {
    const next = t === steps ? ORT_OUTPUT : `Q_${t}`;
    nodes.push(
      {
        op: "Gemm",
        inputs: [state, "X"],
        outputs: [`S_${t}`],
        attributes: [{ name: "alpha", f: beta }, { name: "transB", i: 1 }],
      },
      {
        op: "Softmax",
        inputs: [`S_${t}`],
        outputs: [`P_${t}`],
        attributes: [{ name: "axis", i: -1 }],
      },
      { op: "MatMul", inputs: [`P_${t}`, "X"], outputs: [next] },
    );
    state = next;
  }
  const raw = new Uint8Array(X.buffer, X.byteOffset, X.byteLength);
  const w = new ProtoWriter();
  w.int(ONNX.model.irVersion, 8);
  w.string(ONNX.model.producerName, "hopc-bench");
  w.message(
    ONNX.model.opsetImport,
    (o) => o.string(ONNX.opset.domain, "").int(ONNX.opset.version, 17),
  );
  w.message(ONNX.model.graph, (g) => {
    nodes.forEach((n, k) => g.message(ONNX.graph.node, (nw) => writeNode(nw, n, `${n.op}_${k}`)));
    g.string(ONNX.graph.name, `hopfield_softmax_${steps}`);
    g.message(ONNX.graph.initializer, (tw) => {
      tw.int(ONNX.tensor.dims, M).int(ONNX.tensor.dims, D);
      tw.int(ONNX.tensor.dataType, ONNX.FLOAT);
      tw.string(ONNX.tensor.name, "X");
      tw.bytes(ONNX.tensor.rawData, raw);
    });
    g.message(ONNX.graph.input, (v) => writeValueInfo(v, ORT_INPUT, [B, D]));
    g.message(ONNX.graph.output, (v) => writeValueInfo(v, ORT_OUTPUT, [B, D]));
  });
  return w.finish();
}

/** onnxruntime-web could not be loaded or its WebGPU provider could not start. */
export class OrtUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OrtUnavailable";
  }
}

type Ort = typeof import("onnxruntime-web/webgpu");
let ortModule: Promise<Ort> | undefined;

/** The WebGPU build of onnxruntime-web (loaded on first use). */
export function loadOrt(): Promise<Ort> {
  ortModule ??= (async () => {
    try {
      // The `./webgpu` export: Deno otherwise resolves the package's `node` condition, whose
      // build has no WebGPU provider.
      const ort = (await import("onnxruntime-web/webgpu")) as Ort;
      ort.env.logLevel = "error";
      ort.env.wasm.numThreads = 1; // no cross-origin-isolated threads here; WebGPU does the work
      return ort;
    } catch (e) {
      ortModule = undefined;
      throw new OrtUnavailable(`onnxruntime-web could not be imported: ${errorText(e)}`, {
        cause: e,
      });
    }
  })();
  return ortModule;
}

export interface OrtRetrieval {
  /** onnxruntime-web's version. */
  readonly version: string;
  /** Whether ORT runs on the device passed in (true), or made its own on the same adapter. */
  readonly sharedDevice: boolean;
  /** Final states for B queries (B x D, float32): one session.run, one upload, one download. */
  run(Q: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * A session of the chained softmax graph on onnxruntime-web's WebGPU provider. With `device`,
 * ORT is asked to run on that GPUDevice (same adapter and device as hopc); `sharedDevice` says
 * whether it did.
 */
export async function createOrtRetrieval(
  spec: RetrievalOnnxSpec,
  device?: GPUDevice,
): Promise<OrtRetrieval> {
  const ort = await loadOrt();
  const bytes = buildRetrievalOnnx(spec);
  // onnxruntime-web 1.2x+ runs the native WebGPU EP (not JSEP): it takes an external device per
  // session as the `device` option of the provider (env.webgpu.device is only read back).
  // (Cast: ORT types the option with its own copy of @webgpu/types.)
  const provider = device ? { name: "webgpu" as const, device: device as never } : "webgpu";
  // Whether ORT really allocates on the device given: count its buffer creations there while the
  // session is created (X, an initializer, is uploaded then). env.webgpu.device cannot tell: it
  // holds a device ORT made at initialization whether or not a session uses it.
  let created = 0;
  const plain = device?.createBuffer;
  const own = device !== undefined && Object.hasOwn(device, "createBuffer");
  if (device && plain) {
    device.createBuffer = (d: GPUBufferDescriptor) => (created++, plain.call(device, d));
  }
  let session: Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      graphOptimizationLevel: "all",
    });
  } catch (e) {
    throw new OrtUnavailable(
      `onnxruntime-web ${ort.env.versions.web} could not create a WebGPU session: ${errorText(e)}`,
      { cause: e },
    );
  } finally {
    if (device && plain) {
      if (own) device.createBuffer = plain;
      else Reflect.deleteProperty(device, "createBuffer"); // back to the prototype's method
    }
  }
  const sharedDevice = created > 0;
  const { B, D } = spec;
  return {
    version: ort.env.versions.web ?? "unknown",
    sharedDevice,
    async run(Q) {
      if (Q.length !== B * D) throw new Error(`Q has ${Q.length} values, expected B·D = ${B * D}`);
      const input = new ort.Tensor("float32", Q, [B, D]);
      const out = await session.run({ [ORT_INPUT]: input });
      const t = out[ORT_OUTPUT];
      const data = (t.location === "cpu" ? t.data : await t.getData()) as Float32Array;
      t.dispose();
      return data;
    },
    release: () => session.release(),
  };
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
