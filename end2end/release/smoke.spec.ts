import { expect, test } from "@playwright/test";
import { hydrated, newPerson, PASSWORD } from "../tests/helpers";

test("the release build serves hashed, compressed files and a person can log in", async ({ page }) => {
  const built: { url: string; encoding?: string; cache?: string }[] = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/pkg/")) {
      const headers = response.headers();
      built.push({ url: response.url(), encoding: headers["content-encoding"], cache: headers["cache-control"] });
    }
  });

  const person = newPerson("release");
  await page.goto("/register");
  await hydrated(page);
  for (const file of built) {
    expect(file.url).toMatch(/\/pkg\/gatehouse(_bg)?\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/);
    expect(file.cache).toBe("public, max-age=31536000, immutable");
    expect(["br", "gzip"]).toContain(file.encoding);
  }
  expect(built.map((f) => f.url.split(".").pop()).sort()).toEqual(["css", "js", "wasm"]);

  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Username").fill(person.username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await expect(page.getByText(person.email)).toBeVisible();
});
