// What the TypeScript client adds to an app's bundle: each entry bundled and minified with esbuild
// as an app's bundler would, its peer dependencies (React, TanStack Query) left out since the app
// has them anyway, then gzipped.
//
//     node bench/client_bundle.mjs      (make bench)

import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../clients/typescript/src/", import.meta.url));
const PEERS = ["react", "react-dom", "react/jsx-runtime", "@tanstack/react-query"];

const entries = {
  "client (createStoryImagesClient, errors)": `export { createStoryImagesClient, StoryImagesError } from "${root}index.ts";`,
  "client + hooks": `export * from "${root}index.ts"; export { StoryImagesProvider, useGenerateAllImagesAutomatically, useMasterJobStatus, useCancelGeneration, useRetryGeneration } from "${root}react/index.ts";`,
  "client + hooks + <GenerationProgress>": `export * from "${root}index.ts"; export * from "${root}react/index.ts";`,
};

console.log("entry".padEnd(44) + "minified".padStart(10) + "gzipped".padStart(10));
for (const [name, contents] of Object.entries(entries)) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    external: PEERS,
    write: false,
    logLevel: "error",
  });
  const code = result.outputFiles[0].contents;
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;
  console.log(name.padEnd(44) + kb(code.length).padStart(10) + kb(gzipSync(code, { level: 9 }).length).padStart(10));
}
