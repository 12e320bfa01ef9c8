import { defineConfig } from "@playwright/test";
import { chromium } from "./playwright.config";

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
    launchOptions: chromium,
  },
});
