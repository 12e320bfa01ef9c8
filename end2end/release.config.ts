import { defineConfig } from "@playwright/test";

// The release build, started by deploy/smoke.sh from the packaged files.
export default defineConfig({
  testDir: "./release",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.RELEASE_URL ?? "http://localhost:3200",
    // A self-signed certificate when tried behind a local TLS proxy (README "Deploying").
    ignoreHTTPSErrors: true,
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
});
