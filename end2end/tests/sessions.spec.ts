import { test, expect } from "@playwright/test";
import { hydrated, logIn, newPerson, PASSWORD, register } from "./helpers";
import { SHORT_TTL_URL } from "../playwright.config";

test("one browser sees both sessions and logs the other out", async ({ page, browser }) => {
  const person = newPerson();
  await register(page, person);
  const otherContext = await browser.newContext({
    userAgent:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
  });
  const other = await otherContext.newPage();
  await logIn(other, person.email, PASSWORD);
  await expect(other).toHaveURL(/\/profile$/);

  await page.goto("/sessions");
  await hydrated(page);
  const rows = page.getByRole("row").filter({ has: page.getByRole("cell") });
  await expect(rows).toHaveCount(2);
  await expect(page.getByRole("row", { name: /This device/ })).toBeVisible();
  const firefox = page.getByRole("row", { name: /Firefox on Windows/ });
  await expect(firefox).toBeVisible();
  await firefox.getByRole("button", { name: "Log out" }).click();
  await expect(rows).toHaveCount(1);

  await other.goto("/profile");
  await expect(other).toHaveURL(/\/login\?next=%2Fprofile$/);
  await otherContext.close();
});

test("log out everywhere else keeps only this device", async ({ page, browser }) => {
  const person = newPerson();
  await register(page, person);
  const others = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    const p = await context.newPage();
    await logIn(p, person.email, PASSWORD);
    await expect(p).toHaveURL(/\/profile$/);
    others.push({ context, page: p });
  }
  await page.goto("/sessions");
  await hydrated(page);
  await page.getByRole("button", { name: "Log out everywhere else" }).click();
  await expect(page.getByRole("row").filter({ has: page.getByRole("cell") })).toHaveCount(1);
  for (const o of others) {
    await o.page.goto("/projects");
    await expect(o.page).toHaveURL(/\/login/);
    await o.context.close();
  }
});

test("a person who waits past the access-token lifetime is still logged in", async ({ page }) => {
  const person = newPerson("ttl");
  await register(page, person, true, SHORT_TTL_URL);
  // 2 s lifetime plus the 5 s validation leeway.
  await page.waitForTimeout(8_000);
  await page.goto(`${SHORT_TTL_URL}/sessions`);
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole("row", { name: /This device/ })).toBeVisible();
  // Client-side navigation after another wait renews through a server function call.
  await hydrated(page);
  await page.waitForTimeout(8_000);
  await page.getByRole("navigation").getByRole("link", { name: "Profile" }).click();
  await expect(page.getByText(person.email)).toBeVisible();
});
