import { test, expect, Page, Browser } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import * as fs from "node:fs";
import * as path from "node:path";
import { addClient, grantAdmin, hydrated, logIn, newPerson, PASSWORD, register, visit } from "./helpers";

const SHOTS = path.join(__dirname, "..", "test-results", "screenshots");
const AXE_REPORT = path.join(__dirname, "..", "test-results", "axe-summary.txt");

/** A member with a project full of awkward content (one very long word) and some tasks. */
async function memberWithProject(page: Page) {
  const person = newPerson("ui");
  await register(page, person);
  await visit(page, "/projects");
  await page.getByLabel("Name").fill("Garden");
  await page.getByLabel("Description").fill(`Vegetables and ${"x".repeat(90)} flowers`);
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("link", { name: "Garden" }).click();
  await expect(page.getByRole("heading", { name: "Garden" })).toBeVisible();
  await hydrated(page);
  for (const title of ["Dig the beds", "Sow carrots"]) {
    await page.getByLabel("Title").fill(title);
    const added = page.waitForResponse((r) => r.url().includes("/api/add_task"));
    await page.getByRole("button", { name: "Add task" }).click();
    await added;
    await expect(page.getByRole("listitem", { name: title })).toBeVisible();
  }
  await page.getByRole("button", { name: /^Mark done: Dig the beds/ }).click();
  await expect(page.getByRole("button", { name: /^Mark not done: Dig the beds/ })).toBeVisible();
  const projectPath = new URL(page.url()).pathname;
  return { person, projectPath };
}

/** Every page, as a guest and as a member (with admin pages for an admin). */
async function pagesFor(browser: Browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { person, projectPath } = await memberWithProject(page);
  grantAdmin(person.email);
  const statePath = path.join(__dirname, "..", "test-results", `state-${Date.now()}.json`);
  await context.storageState({ path: statePath });
  const id = await page.evaluate(async () => {
    const res = await fetch("/api/v1/users/me");
    return res.ok ? ((await res.json()) as { id: number }).id : null;
  });
  await context.close();
  const guest = ["/", "/login", "/register", "/forgot-password", "/reset-password?token=nonsense", "/verify-email?token=nonsense", "/no-such-page"];
  const app = addClient("--name", "Axe app", "--redirect-uri", "http://127.0.0.1:3199/callback");
  const consent = `/consent?response_type=code&client_id=${app.client_id}&redirect_uri=${encodeURIComponent("http://127.0.0.1:3199/callback")}&scope=openid+email&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`;
  const member = ["/profile", "/sessions", "/projects", projectPath, `${projectPath}/delete`, "/activity", "/security", "/apps", consent, "/admin/users", "/admin/apps"];
  if (id) member.push(`/admin/users/${id}`);
  return { guest, member, statePath };
}

function shotName(theme: string, pagePath: string) {
  const name = pagePath.replace(/^\//, "").replace(/[^a-z0-9]+/gi, "-") || "home";
  return path.join(SHOTS, `${theme}-${name}.png`);
}

test.describe("accessibility and themes", () => {
  test.setTimeout(240_000);

  test("no serious or critical axe violations on any page, light and dark, logged in and out", async ({ browser }) => {
    const { guest, member, statePath } = await pagesFor(browser);
    fs.mkdirSync(SHOTS, { recursive: true });
    const report: string[] = [];
    const failures: string[] = [];
    for (const theme of ["light", "dark"] as const) {
      for (const [who, paths] of [["guest", guest], ["member", member]] as const) {
        const context = await browser.newContext({
          colorScheme: theme,
          storageState: who === "member" ? statePath : undefined,
          viewport: { width: 1280, height: 800 },
        });
        const page = await context.newPage();
        for (const pagePath of paths) {
          await page.goto(pagePath);
          await hydrated(page);
          const results = await new AxeBuilder({ page }).analyze();
          const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
          const minor = results.violations.length - bad.length;
          report.push(`${theme} ${who} ${pagePath}: ${bad.length} serious/critical, ${minor} minor, ${results.passes.length} rules passed`);
          for (const v of bad) {
            failures.push(`${theme} ${pagePath}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
          }
          await page.screenshot({ path: shotName(theme, pagePath), fullPage: true });
        }
        await context.close();
      }
    }
    fs.writeFileSync(AXE_REPORT, report.join("\n") + "\n");
    console.log(report.join("\n"));
    expect(failures, failures.join("\n")).toEqual([]);
  });

  test("dark mode follows the system setting", async ({ browser }) => {
    for (const [scheme, dark] of [["dark", true], ["light", false]] as const) {
      const context = await browser.newContext({ colorScheme: scheme });
      const page = await context.newPage();
      await visit(page, "/login");
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const [r, g, b] = background.match(/\d+/g)!.map(Number);
      const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      expect(luminance < 0.2, `${scheme}: body background ${background}`).toBe(dark);
      await context.close();
    }
  });

  test("no page is wider than a 320 px screen", async ({ browser }) => {
    const { guest, member, statePath } = await pagesFor(browser);
    for (const [who, paths] of [["guest", guest], ["member", member]] as const) {
      const context = await browser.newContext({
        viewport: { width: 320, height: 640 },
        storageState: who === "member" ? statePath : undefined,
      });
      const page = await context.newPage();
      for (const pagePath of paths) {
        await page.goto(pagePath);
        await hydrated(page);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(width, `${pagePath} at 320 px`).toBeLessThanOrEqual(320);
      }
      if (who === "member") {
        await page.goto("/sessions");
        await page.screenshot({ path: path.join(SHOTS, "phone-sessions.png"), fullPage: true });
      }
      await context.close();
    }
  });
});

/** Whether the focused element shows a focus ring a sighted keyboard user can see. */
async function focusRingVisible(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return false;
    const style = getComputedStyle(el);
    return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  });
}

/** Presses Tab until the element with `id` has the focus (at most 30 times). */
async function tabTo(page: Page, id: string) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((want) => document.activeElement?.id === want, id)) {
      expect(await focusRingVisible(page), `focus ring on #${id}`).toBe(true);
      return;
    }
  }
  throw new Error(`could not reach #${id} with Tab`);
}

async function tabToButton(page: Page, name: string) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    const text = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el?.getAttribute("aria-label") ?? el?.textContent?.trim() ?? "";
    });
    if (text === name) {
      expect(await focusRingVisible(page), `focus ring on ${name}`).toBe(true);
      return;
    }
  }
  throw new Error(`could not reach "${name}" with Tab`);
}

test("keyboard only: register, profile, projects, with a visible focus ring", async ({ page }) => {
  const person = newPerson("keys");
  await visit(page, "/register");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to main content" })).toBeFocused();
  expect(await focusRingVisible(page)).toBe(true);
  await page.keyboard.press("Enter");
  await expect(page.locator("main")).toBeFocused();

  await tabTo(page, "register-email");
  await page.keyboard.type(person.email);
  await tabTo(page, "register-username");
  await page.keyboard.type(person.username);
  await tabTo(page, "register-password");
  await page.keyboard.type(PASSWORD);
  await tabTo(page, "register-confirm_password");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await hydrated(page);

  await tabToButton(page, "Projects");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/projects$/);
  await hydrated(page);
  await tabTo(page, "project-name");
  await page.keyboard.type("Made by keyboard");
  await tabTo(page, "project-description");
  await page.keyboard.type("No mouse involved");
  await tabToButton(page, "Create project");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("link", { name: "Made by keyboard" })).toBeVisible();
});

test("after a failed submit, focus moves to the error summary, whose entries lead to their fields", async ({ page }) => {
  await visit(page, "/register");
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByRole("button", { name: "Create account" }).click();
  const summary = page.getByRole("alert");
  await expect(summary).toBeFocused();
  const link = summary.getByRole("link").first();
  await expect(link).toHaveAttribute("href", "#register-email");
  await link.click();
  await expect(page.getByLabel("Email")).toBeFocused();
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-describedby", /register-email-error/);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a failed login focuses the summary and keeps the email out of the address", async ({ page }) => {
    const person = newPerson("nojs");
    await page.goto("/login");
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password", { exact: true }).fill("wrong password here");
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page.getByRole("alert")).toContainText("Invalid email or password.");
    await expect(page.getByRole("alert")).toBeFocused();
    await expect(page.getByLabel("Email")).toHaveValue(person.email);
    expect(page.url()).not.toContain(encodeURIComponent(person.email));
    expect(page.url()).not.toContain(Buffer.from(person.email).toString("base64").slice(0, 12));
  });

  test("a double click on Create project creates one project", async ({ page }) => {
    const person = newPerson("dbl");
    await register(page, person, false);
    await page.goto("/projects");
    await page.getByLabel("Name").fill("Only once");
    await page.getByRole("button", { name: "Create project" }).dblclick();
    await page.waitForLoadState("networkidle");
    const check = await page.context().newPage();
    await check.goto("/projects");
    await expect(check.getByRole("listitem", { name: "Only once" })).toHaveCount(1);
  });
});

test("a double click on Create project creates one project (JavaScript on)", async ({ page }) => {
  const person = newPerson("dbljs");
  await register(page, person);
  await visit(page, "/projects");
  await page.getByLabel("Name").fill("Just one");
  const created = page.waitForResponse((r) => r.url().includes("/api/create_project"));
  await page.getByRole("button", { name: "Create project" }).dblclick();
  await created;
  await expect(page.getByRole("listitem", { name: "Just one" })).toHaveCount(1);
  await page.reload();
  await expect(page.getByRole("listitem", { name: "Just one" })).toHaveCount(1);
});

test("tasks: tick, rename in place and filter, with focus kept", async ({ page }) => {
  await memberWithProject(page);
  const toggle = page.getByRole("button", { name: /^Mark done: Sow carrots/ });
  await toggle.click();
  const undo = page.getByRole("button", { name: /^Mark not done: Sow carrots/ });
  await expect(undo).toBeVisible();
  await expect(undo).toBeFocused();
  await expect(page.getByText("2 / 2 done")).toBeVisible();

  const row = page.getByRole("listitem", { name: "Sow carrots" });
  await row.getByRole("button", { name: "Rename" }).click();
  const renameForm = page.getByRole("form", { name: /Rename/ });
  await expect(renameForm.getByLabel("New title")).toBeFocused();
  await renameForm.getByLabel("New title").fill("Sow early carrots");
  await renameForm.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("listitem", { name: "Sow early carrots" })).toBeVisible();

  await page.getByRole("button", { name: /^Mark not done: Dig the beds/ }).click();
  await expect(page.getByRole("button", { name: /^Mark done: Dig the beds/ })).toBeVisible();
  await page.getByRole("link", { name: /^Not done/ }).click();
  await expect(page.getByRole("listitem", { name: "Dig the beds" })).toBeVisible();
  await expect(page.getByRole("listitem", { name: "Sow early carrots" })).toHaveCount(0);
  await page.getByRole("link", { name: /^Done/ }).click();
  await expect(page.getByRole("listitem", { name: "Sow early carrots" })).toBeVisible();
  await expect(page.getByRole("listitem", { name: "Dig the beds" })).toHaveCount(0);
});

test("with JavaScript, links and forms change the page without reloading it, and Back works", async ({ page }) => {
  const person = newPerson("swap");
  await register(page, person);
  await visit(page, "/profile");
  // A full page load would lose this.
  await page.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
  const main = page.getByRole("navigation", { name: "Main" });
  await main.getByRole("link", { name: "Projects" }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await expect(page).toHaveTitle(/^Your projects/);
  await page.getByLabel("Name").fill("Without a reload");
  const created = page.waitForResponse((r) => r.url().includes("/api/create_project"));
  await page.getByRole("button", { name: "Create project" }).click();
  await created;
  await expect(page.getByRole("link", { name: "Without a reload" })).toBeVisible();
  await expect(page).toHaveURL(/\/projects$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
});

test("changing the email asks for the current password while typing (JavaScript on)", async ({ page }) => {
  const person = newPerson("reveal");
  await register(page, person);
  await visit(page, "/profile");
  const edit = page.getByRole("form", { name: "Edit profile" });
  await expect(edit.getByLabel("Current password")).toBeHidden();
  await edit.getByLabel("Email").fill(`new.${person.email}`);
  await expect(edit.getByLabel("Current password")).toBeVisible();
  await edit.getByLabel("Email").fill(person.email.toUpperCase());
  await expect(edit.getByLabel("Current password")).toBeHidden();
});

test("a form that cannot reach the server says so and can be sent again (JavaScript on)", async ({ page }) => {
  const person = newPerson("offline");
  await register(page, person);
  await visit(page, "/projects");
  await page.route("**/api/create_project", (route) => route.abort());
  await page.getByLabel("Name").fill("Sent twice");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("alert")).toContainText("Could not reach Gatehouse");
  await expect(page.getByRole("button", { name: "Create project" })).toBeEnabled();
  await page.unroute("**/api/create_project");
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.getByRole("link", { name: "Sent twice" })).toBeVisible();
});
