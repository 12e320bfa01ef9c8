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
  await page.getByRole("textbox", { name: "username:" }).fill(person.email);
  await page.getByRole("textbox", { name: "password:" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Apply given OAuth2 credentials" }).click();
  await expect(page.getByRole("heading", { name: "password (OAuth2, password)" }).locator("..")).toContainText("Authorized");
  await page.getByRole("button", { name: "Close" }).last().click();

  await page.getByRole("button", { name: "GET /api/v1/users/me", exact: true }).click();
  const operation = page.locator("#operations-users-me");
  await operation.getByRole("button", { name: "Try it out" }).click();
  await operation.getByRole("button", { name: "Execute" }).click();
  const live = operation.locator(".live-responses-table");
  await expect(live.locator("tr.response .response-col_status").first()).toHaveText("200");
  await expect(live).toContainText(person.email);
});
