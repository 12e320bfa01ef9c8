import { test, expect } from "@playwright/test";
import { newPerson, PASSWORD } from "./helpers";

test("Swagger UI at /docs authorizes with email and password and calls the API", async ({ page, request }) => {
  const person = newPerson("docs");
  const created = await request.post("/api/v1/auth/register", {
    data: { email: person.email, password: PASSWORD },
  });
  expect(created.status()).toBe(201);

  await page.goto("/docs/");
  await expect(page.getByRole("heading", { name: /Gatehouse API/ })).toBeVisible({ timeout: 20_000 });
  await page.getByRole("button", { name: "Authorize" }).first().click();
  const dialog = page.getByRole("dialog");
  await dialog.locator("#oauth_username").fill(person.email);
  await dialog.locator("#oauth_password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Authorize" }).first().click();
  await expect(dialog.getByRole("button", { name: "Logout" }).first()).toBeVisible();
  await dialog.getByRole("button", { name: "Close" }).first().click();

  const operation = page.locator("#operations-users-me");
  await operation.locator(".opblock-summary").click();
  await operation.getByRole("button", { name: "Try it out" }).click();
  await operation.getByRole("button", { name: "Execute" }).click();
  const live = operation.locator(".live-responses-table");
  await expect(live.locator(".response-col_status").first()).toHaveText("200");
  await expect(live).toContainText(person.email);
});
