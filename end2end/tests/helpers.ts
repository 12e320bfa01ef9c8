import { expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { MAIN_DATA, MAIN_URL } from "../playwright.config";

export const PASSWORD = "violet tundra kettle 42";
export const NEW_PASSWORD = "maple orbit lantern 77";

let counter = 0;

/** A fresh person for each test, so tests never share accounts. */
export function newPerson(prefix = "ada") {
  counter += 1;
  const tag = `${Date.now().toString(36)}${counter}${Math.floor(Math.random() * 1000)}`;
  return { email: `${prefix}.${tag}@example.com`, username: `${prefix}_${tag}`.slice(0, 32) };
}

/** Waits until the page is interactive (the wasm has hydrated it). */
export async function hydrated(page: Page) {
  await page.waitForSelector("body[data-hydrated]", { timeout: 30_000 });
}

/** Navigates and, when JavaScript is on, waits for hydration. */
export async function visit(page: Page, path: string, js = true) {
  await page.goto(path);
  if (js) await hydrated(page);
}

/** Registers through the form; `base` picks another server (e.g. the short-TTL one). */
export async function register(page: Page, person: { email: string; username: string }, js = true, base = "") {
  await visit(page, `${base}/register`, js);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Username").fill(person.username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
}

export async function logIn(page: Page, email: string, password: string, js = true, path = "/login") {
  await visit(page, path, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
}

export async function logOut(page: Page) {
  await page.getByRole("navigation").getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("navigation").getByRole("link", { name: "Log in" })).toBeVisible();
}

export async function changePassword(page: Page, from: string, to: string) {
  const change = page.getByRole("form", { name: "Change password" });
  await change.getByLabel("Current password").fill(from);
  await change.getByLabel("New password", { exact: true }).fill(to);
  await change.getByLabel("Confirm new password").fill(to);
  await change.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password has been changed");
}

/** `gatehouse admin grant EMAIL`, run with the main server's settings. */
export function grantAdmin(email: string) {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(__dirname, "..", "..", "target");
  const out = execFileSync(path.join(target, "debug", "gatehouse"), ["admin", "grant", email], {
    env: { ...process.env, DATA_DIR: MAIN_DATA, PUBLIC_URL: MAIN_URL, RUST_LOG: "warn" },
    encoding: "utf8",
  });
  expect(out).toContain("is now an administrator");
}

/** `gatehouse oidc add-client ARGS`, run with the main server's settings: the app's JSON. */
export function addClient(...args: string[]): { client_id: string; client_secret?: string } {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(__dirname, "..", "..", "target");
  const out = execFileSync(path.join(target, "debug", "gatehouse"), ["oidc", "add-client", ...args], {
    env: { ...process.env, DATA_DIR: MAIN_DATA, PUBLIC_URL: MAIN_URL, RUST_LOG: "warn" },
    encoding: "utf8",
  });
  return JSON.parse(out);
}
