import { test, expect } from "@playwright/test";
import { hydrated, logIn, NEW_PASSWORD, newPerson, PASSWORD, register, visit } from "./helpers";
import { mailedLink } from "./mail";

test("a new account confirms its address from the mailed link", async ({ page }) => {
  const person = newPerson("verify");
  await register(page, person);
  await expect(page.getByText("Not verified")).toBeVisible();

  const link = await mailedLink(person.email, "Confirm your email address", "/verify-email");
  await page.goto(link);
  await hydrated(page);
  await page.getByRole("button", { name: "Confirm email address" }).click();
  await expect(page.getByRole("status")).toContainText("your email address is confirmed");

  await visit(page, "/profile");
  await expect(page.getByText("Verified", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Resend confirmation email" })).toHaveCount(0);
});

test("a forgotten password is reset from the mailed link, and other sessions end", async ({ browser }) => {
  const person = newPerson("reset");
  const owner = await browser.newContext();
  const other = await browser.newContext();
  const ownerPage = await owner.newPage();
  const otherPage = await other.newPage();
  await register(ownerPage, person);
  await logIn(otherPage, person.email, PASSWORD);
  await expect(otherPage).toHaveURL(/\/profile$/);

  const guest = await browser.newContext();
  const page = await guest.newPage();
  await visit(page, "/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await hydrated(page);
  await page.getByLabel("Email").fill(person.email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await expect(page.getByText("Check your inbox", { exact: false }).first()).toBeVisible();

  const link = await mailedLink(person.email, "Reset your password", "/reset-password");
  await page.goto(link);
  await hydrated(page);
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("Confirm new password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set new password" }).click();
  await expect(page).toHaveURL(/\/login\?reset=done$/);
  await expect(page.getByRole("status")).toContainText("Your password has been changed");
  // Still the document that opened the emailed link (served with no-referrer): a refused
  // form must still come back to this page with its error.
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill("not the new password");
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("Invalid email or password.");
  await expect(page).toHaveURL(/\/login\?reset=done$/);

  await logIn(page, person.email, PASSWORD);
  await expect(page.getByRole("alert")).toContainText("Invalid email or password.");
  await logIn(page, person.email, NEW_PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);

  await otherPage.goto("/profile");
  await expect(otherPage).toHaveURL(/\/login/);
  await ownerPage.goto("/profile");
  await expect(ownerPage).toHaveURL(/\/login/);
  await Promise.all([owner.close(), other.close(), guest.close()]);
});

test("an email change applies once the new address confirms it", async ({ page }) => {
  const person = newPerson("move");
  const next = newPerson("moved").email;
  await register(page, person);
  const edit = page.getByRole("form", { name: "Edit profile" });
  await edit.getByLabel("Email").fill(next);
  await edit.getByLabel("Current password").fill(PASSWORD);
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status")).toContainText("A confirmation link was sent to the new address");
  await expect(page.getByTestId("profile-email")).toHaveText(person.email);

  const link = await mailedLink(next, "Confirm your new email address", "/verify-email");
  await page.goto(link);
  await hydrated(page);
  await page.getByRole("button", { name: "Confirm email address" }).click();
  await expect(page.getByRole("status")).toContainText("Your new email address is confirmed");
  await visit(page, "/profile");
  await expect(page.getByTestId("profile-email")).toHaveText(next);
});
