import { test, expect, Browser, Page } from "@playwright/test";
import { changePassword, hydrated, logIn, logOut, NEW_PASSWORD, newPerson, PASSWORD, register, visit } from "./helpers";

async function accountJourney(page: Page, js: boolean) {
  const person = newPerson(js ? "js" : "nojs");
  await register(page, person, js);
  await expect(page.getByText(person.email)).toBeVisible();
  await expect(page.getByText("Member since")).toBeVisible();

  await logOut(page);
  await logIn(page, person.email, PASSWORD, js);
  await expect(page).toHaveURL(/\/profile$/);

  // Edit the profile: a new username needs no password.
  const edit = page.getByRole("form", { name: "Edit profile" });
  await edit.getByLabel("Username").fill(`${person.username}_x`.slice(0, 32));
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status")).toHaveText("Your profile has been saved.");
  await expect(page.getByTestId("profile-username")).toHaveText(`${person.username}_x`.slice(0, 32));

  // Change the password.
  await changePassword(page, PASSWORD, NEW_PASSWORD);

  await logOut(page);
  await logIn(page, person.email, PASSWORD, js);
  await expect(page.getByRole("alert")).toContainText("Invalid email or password.");
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByLabel("Email")).toHaveValue(person.email);
  await logIn(page, person.email, NEW_PASSWORD, js);
  await expect(page).toHaveURL(/\/profile$/);
}

test("register, log out, log in, edit profile, change password (JavaScript on)", async ({ page }) => {
  await accountJourney(page, true);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same journey works with plain form posts", async ({ page }) => {
    await accountJourney(page, false);
  });

  test("server-side errors appear next to the fields and in an alert", async ({ page }) => {
    await page.goto("/register");
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Username").fill("ok_name");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByLabel("Confirm password").fill("different");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/register/);
    await expect(page.getByRole("alert")).toBeVisible();
    await expect(page.getByText("Enter a valid email address, like name@example.com.").first()).toBeVisible();
    await expect(page.getByText("Password must be at least 8 characters long.").first()).toBeVisible();
    await expect(page.getByText("The passwords do not match.").first()).toBeVisible();
    await expect(page.getByLabel("Email")).toHaveValue("not-an-email");
    await expect(page.getByLabel("Username")).toHaveValue("ok_name");
    await expect(page.getByLabel("Password", { exact: true })).toHaveValue("");
  });
});

test("field errors appear instantly for bad input (JavaScript on)", async ({ page }) => {
  let posted = false;
  page.on("request", (req) => {
    if (req.method() === "POST" && req.url().includes("/api/register")) posted = true;
  });
  await visit(page, "/register");
  await page.getByLabel("Email").fill("ada@");
  await page.getByLabel("Username").fill("a");
  await page.getByLabel("Password", { exact: true }).fill("password123");
  await page.getByLabel("Confirm password").fill("password124");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("Please correct the highlighted fields.");
  await expect(page.locator("#register-email-error")).toHaveText("Enter a valid email address, like name@example.com.");
  await expect(page.locator("#register-username-error")).toHaveText("Username must be 3 to 32 characters long.");
  await expect(page.locator("#register-password-error")).toContainText("too easy to guess");
  await expect(page.locator("#register-confirm_password-error")).toHaveText("The passwords do not match.");
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  expect(posted).toBe(false);

  // A taken email is only known to the server; its answer shows the same way.
  const person = newPerson();
  const other = await page.context().browser()!.newContext();
  await register(await other.newPage(), person);
  await other.close();
  await page.getByLabel("Email").fill(person.email.toUpperCase());
  await page.getByLabel("Username").fill("someone_else");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#register-email-error")).toHaveText("An account with this email already exists.");
  await expect(page).toHaveURL(/\/register$/);
});

test("a guest is sent to log in and brought back to the page", async ({ page }) => {
  const person = newPerson();
  await register(page, person);
  await logOut(page);
  await page.goto("/sessions");
  await expect(page).toHaveURL(/\/login\?next=%2Fsessions$/);
  await hydrated(page);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole("heading", { name: "Your sessions" })).toBeVisible();
});

async function loggedInContext(browser: Browser, email: string, password: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page, email, password);
  await expect(page).toHaveURL(/\/profile$/);
  return { context, page };
}

test("a password change ends the other browser's session", async ({ page, browser }) => {
  const person = newPerson();
  await register(page, person);
  const second = await loggedInContext(browser, person.email, PASSWORD);

  await changePassword(page, PASSWORD, NEW_PASSWORD);

  await second.page.goto("/profile");
  await expect(second.page).toHaveURL(/\/login\?next=%2Fprofile$/);
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/profile$/);
  await second.context.close();
});
