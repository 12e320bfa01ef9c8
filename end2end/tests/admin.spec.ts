import { test, expect } from "@playwright/test";
import { grantAdmin, hydrated, logIn, logOut, newPerson, PASSWORD, register, visit } from "./helpers";

test("an admin finds a person by email and deactivates them; their browser is logged out", async ({ browser }) => {
  const adminPerson = newPerson("boss");
  const member = newPerson("member");
  const adminContext = await browser.newContext();
  const memberContext = await browser.newContext();
  const adminPage = await adminContext.newPage();
  const memberPage = await memberContext.newPage();
  await register(adminPage, adminPerson);
  grantAdmin(adminPerson.email);
  await register(memberPage, member);

  await visit(adminPage, "/admin/users");
  await adminPage.getByLabel("Search").fill(member.email);
  await adminPage.getByRole("button", { name: "Search" }).click();
  await expect(adminPage).toHaveURL(/\/admin\/users\?q=/);
  await hydrated(adminPage);
  const row = adminPage.getByRole("row", { name: new RegExp(member.email) });
  await expect(row).toHaveCount(1);
  // The action forms carry a field named "action": they are still sent without a reload.
  await adminPage.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
  await row.getByRole("button", { name: "Deactivate" }).click();
  await expect(row.getByRole("button", { name: "Reactivate" })).toBeVisible();
  expect(await adminPage.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);

  await memberPage.goto("/profile");
  await expect(memberPage).toHaveURL(/\/login/);
  await logIn(memberPage, member.email, PASSWORD);
  await expect(memberPage.getByRole("alert")).toContainText("deactivated");
  await Promise.all([adminContext.close(), memberContext.close()]);
});

test("a member sees their own security activity", async ({ page }) => {
  const person = newPerson("watch");
  await register(page, person);
  await logOut(page);
  await logIn(page, person.email, "not the password");
  await expect(page.getByRole("alert")).toContainText("Invalid email or password.");
  await logIn(page, person.email, PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);
  await page.getByRole("navigation").getByRole("link", { name: "Activity" }).click();
  await expect(page.getByRole("heading", { name: "Security activity" })).toBeVisible();
  const entries = page.getByRole("list", { name: "Security activity" }).getByRole("listitem");
  await expect(entries.first()).toContainText("Log in from");
  await expect(page.getByText("Failed log-in attempt")).toBeVisible();
  await expect(entries.last()).toContainText("Account created");
});
