import { defineConfig } from "vite";

// Built to static files (dist/) that the local stack's gateway serves at `/`, beside the API at
// `/api`: the page calls the API on its own origin.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      // TanStack marks its modules "use client" for React Server Components; a client bundle has no use for it.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  server: { proxy: { "/api": "http://127.0.0.1:3000", "/_local": "http://127.0.0.1:3000" } },
});
