import { defineConfig } from "@playwright/test";

// Debian's Chromium: Playwright must never download a browser here.
export const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};

export const MAIN_URL = "http://127.0.0.1:3100";
// The main server sends its mail to a real SMTP server (aiosmtpd) that files it here.
export const SMTP_PORT = 2525;
export const MAILDIR = process.env.E2E_MAILDIR ?? "/tmp/gatehouse-e2e-mail";
// The main server's data directory, so tests can run `gatehouse admin grant` against it.
export const MAIN_DATA = process.env.E2E_DATA ?? "/tmp/gatehouse-e2e-3100";
// A second server whose access tokens expire after 2 seconds, for silent renewal.
export const SHORT_TTL_URL = "http://127.0.0.1:3101";
// A server on a host name: WebAuthn refuses IP addresses as relying parties (passkeys).
export const PASSKEY_URL = "http://localhost:3102";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: MAIN_URL,
    browserName: "chromium",
    launchOptions: chromium,
    trace: "retain-on-failure",
  },
  webServer: [
    {
      command: `./smtp.sh ${SMTP_PORT} ${MAILDIR}`,
      port: SMTP_PORT,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
    },
    {
      command: `rm -rf ${MAIN_DATA} && ./serve.sh 3100 DATA_DIR=${MAIN_DATA} SMTP_URL=smtp://127.0.0.1:${SMTP_PORT} MAIL_FROM=gatehouse@example.com`,
      url: `${MAIN_URL}/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
    },
    {
      command: "./serve.sh 3101 ACCESS_TOKEN_TTL=2s",
      url: `${SHORT_TTL_URL}/health`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
    },
    {
      command: `./serve.sh 3102 PUBLIC_URL=${PASSKEY_URL}`,
      url: "http://127.0.0.1:3102/health",
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
    },
  ],
});
