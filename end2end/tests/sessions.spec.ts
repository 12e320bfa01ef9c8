import { test, expect, APIRequestContext, Page } from "@playwright/test";
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

/** The access token `page` holds for the short-TTL server, which must take it now. */
async function heldAccessToken(page: Page, request: APIRequestContext): Promise<string> {
  const cookies = await page.context().cookies(SHORT_TTL_URL);
  const token = cookies.find((c) => c.name === "gatehouse_access")?.value;
  expect(token, "the browser holds an access token").toBeTruthy();
  expect(await meWith(request, token!), "the access token works before it expires").toBe(200);
  return token!;
}

/** `GET /api/v1/users/me` with `token` alone, as a Bearer token from another client: no
 * cookie goes with it, so nothing is renewed. */
async function meWith(request: APIRequestContext, token: string): Promise<number> {
  const res = await request.get(`${SHORT_TTL_URL}/api/v1/users/me`, {
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
  });
  return res.status();
}

/** Waits until the server refuses `token` (its 2 s lifetime and the 5 s validation leeway
 * are over) while `page` still holds it, so that the page's next request must renew it. */
async function expired(page: Page, request: APIRequestContext, token: string) {
  await expect.poll(() => meWith(request, token), { timeout: 20_000, intervals: [250] }).toBe(401);
  const held = (await page.context().cookies(SHORT_TTL_URL)).find((c) => c.name === "gatehouse_access");
  expect(held?.value, "nothing renewed it meanwhile").toBe(token);
}

test("a person who waits past the access-token lifetime is still logged in", async ({ page, request }) => {
  const person = newPerson("ttl");
  await register(page, person, true, SHORT_TTL_URL);
  const first = await heldAccessToken(page, request);
  await expired(page, request, first);
  await page.goto(`${SHORT_TTL_URL}/sessions`);
  await expect(page).toHaveURL(/\/sessions$/);
  const renewed = await heldAccessToken(page, request);
  expect(renewed, "the page load renewed the token").not.toBe(first);
  await expect(page.getByRole("row", { name: /This device/ })).toBeVisible();
  // Client-side navigation once that token has expired too renews through a server function
  // call.
  await hydrated(page);
  await expired(page, request, renewed);
  await page.getByRole("navigation").getByRole("link", { name: "Profile" }).click();
  await expect(page.getByText(person.email)).toBeVisible();
});
