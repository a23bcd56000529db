// Writes playground/screenshot.png, the README's picture of the playground: 8 half-masked
// Fashion-MNIST queries against 200 memories, retrieved by the default 1.5-entmax model in
// headless Chromium (WebGPU on SwiftShader, as in tests/browser_test.ts).
//
//   deno run -A tools/playground_screenshot.ts
import { chromium } from "playwright-core";
import { buildPlayground } from "../playground/build.ts";
import { serveDir } from "../playground/serve.ts";
import "../playground/hooks.ts"; // the type of globalThis.hopcPlayground

const dist = await Deno.makeTempDir({ prefix: "hopc-playground-" });
await buildPlayground(dist);
const server = serveDir(dist, 0);
const browser = await chromium.launch({
  executablePath: Deno.env.get("HOPC_CHROMIUM") ?? "/usr/bin/chromium",
  args: ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`http://127.0.0.1:${server.addr.port}/`);
  await page.waitForFunction(() => globalThis.hopcPlayground?.ready);
  await page.evaluate(() => globalThis.hopcPlayground.ready);
  await page.selectOption("#dataset", "fashion");
  await page.fill("#queries", "8");
  await page.fill("#memories", "200");
  await page.click("#run");
  await page.waitForFunction(() => globalThis.hopcPlayground.shown?.maxError != null, null, {
    timeout: 120_000,
  });
  await page.click("#images td[data-query='2']"); // its weights: a query that goes wrong
  const box = (await page.locator("#results").boundingBox())!;
  const path = new URL("../playground/screenshot.png", import.meta.url).pathname;
  await page.screenshot({
    path,
    fullPage: true,
    clip: { x: 0, y: 0, width: 1100, height: box.y + box.height + 8 },
  });
  console.log(`wrote ${path}`);
} finally {
  await browser.close();
  await server.shutdown();
  await Deno.remove(dist, { recursive: true });
}
