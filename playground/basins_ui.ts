/// <reference lib="dom" />
// The 2-D panel's controls: memories placed by clicking any map, and one map per normalizer plus
// the editor's selected model, drawn on demand. The last maps stay on `hopcPlayground.basins`.
import type { Model } from "./hopc_api.ts";
import {
  type BasinMap,
  basinMap,
  basinModel,
  type BasinSettings,
  eventPoint,
  NORMALIZERS,
  paintMap,
} from "./basins.ts";
import { uniform01 } from "./hopc_api.ts";
import "./hooks.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function attachBasins(editorModel: () => Model | undefined): void {
  const memories: [number, number][] = [[-0.6, -0.4], [0.55, -0.5], [0.05, 0.65]];
  const state = globalThis.hopcPlayground.basins;
  state.memories = memories;
  const holder = $("basin-maps");
  const labels = [...NORMALIZERS.map((n) => n.label), "your model"];
  // Which maps to draw: each is a kernel compile, seconds on a software adapter.
  const chosen = new Map(labels.map((label) => {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = label;
    const l = document.createElement("label");
    l.append(box, ` ${label}`);
    $("basin-normalizers").append(l);
    return [label, box];
  }));
  const canvases = labels.map((label) => {
    const fig = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.dataset.label = label;
    const caption = document.createElement("figcaption");
    caption.textContent = label;
    fig.append(canvas, caption);
    holder.append(fig);
    canvas.addEventListener("click", (e) => {
      const p = eventPoint(canvas, e);
      if (e.shiftKey && memories.length > 0) {
        const dist = (m: [number, number]) => Math.hypot(m[0] - p[0], m[1] - p[1]);
        let best = 0;
        memories.forEach((m, i) => {
          if (dist(m) < dist(memories[best])) best = i;
        });
        memories.splice(best, 1);
      } else if (memories.length < 10) memories.push(p);
      repaint(true);
    });
    return { canvas, caption, label };
  });
  const repaint = (clear: boolean) => {
    if (clear) state.maps = [];
    canvases.forEach(({ canvas, label }) => {
      paintMap(canvas, state.maps.find((m) => m.label === label) ?? null, memories);
    });
  };
  const settings = (): BasinSettings => ({
    similarity: $<HTMLSelectElement>("basin-similarity").value,
    beta: Number($<HTMLInputElement>("basin-beta").value),
    steps: Number($<HTMLInputElement>("basin-steps").value),
    size: Number($<HTMLSelectElement>("basin-size").value),
  });
  const status = $("basin-status");
  $("basin-clear").addEventListener("click", () => {
    memories.splice(0);
    repaint(true);
  });
  $("basin-random").addEventListener("click", () => {
    const seed = ++state.draws;
    memories.splice(0);
    for (let i = 0; i < 5; i++) {
      memories.push([2 * uniform01(seed, i, 0) - 1, 2 * uniform01(seed, i, 1) - 1]);
    }
    repaint(true);
  });
  $("basin-run").addEventListener("click", async () => {
    if (memories.length === 0) {
      status.textContent = "place a memory first";
      return;
    }
    const s = settings();
    const maps: BasinMap[] = [];
    try {
      for (const n of NORMALIZERS.filter((n) => chosen.get(n.label)!.checked)) {
        status.textContent = `drawing ${n.label}…`;
        maps.push(await basinMap(n.label, basinModel(n.entropy, s), memories, s.size));
      }
      const own = editorModel();
      // The editor's model runs on 2-D points only if it makes sense there (it may need more rows).
      if (own && chosen.get("your model")!.checked) {
        maps.push(
          await basinMap("your model", own, memories, s.size).catch((e) => {
            status.textContent = `your model: ${(e as Error).message}`;
            return { label: "your model", size: s.size, basinOf: new Int32Array(0), ms: 0 };
          }),
        );
      }
      state.maps = maps.filter((m) => m.basinOf.length > 0);
      repaint(false);
      canvases.forEach((c) => {
        const m = maps.find((x) => x.label === c.label);
        c.caption.textContent = m && m.basinOf.length > 0
          ? `${c.label}${c.label === "your model" ? ` (${own?.name})` : ""}: ${m.ms.toFixed(0)} ms`
          : c.label;
      });
      if (!status.textContent?.startsWith("your model")) {
        status.textContent = `${memories.length} memories, ${s.similarity}, beta ${s.beta}`;
      }
    } catch (e) {
      status.textContent = `error: ${(e as Error).message}`;
    }
  });
  repaint(true);
}
