import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
    // Each file starts its own fake API server on a free 127.0.0.1 port.
    testTimeout: 20_000,
  },
});
