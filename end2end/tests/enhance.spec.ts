import { test, expect, Page } from "@playwright/test";
import { hydrated, newPerson, register, visit } from "./helpers";

/** Marks the open document: a full page load loses the mark, a page put in place keeps it. */
async function markPage(page: Page) {
  await page.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
}

async function samePage(page: Page) {
  return page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage === true);
}

/** Counts the posts the page sends to `path` from now on. */
function countPosts(page: Page, path: string) {
  const sent = { count: 0 };
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === path) sent.count += 1;
  });
  return sent;
}

/** A new member's project with one task, open on the project's page; returns its path. */
async function projectWithTask(page: Page, title: string) {
  await register(page, newPerson("enh"));
  await visit(page, "/projects");
  await page.getByLabel("Name").fill("Beans");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("link", { name: "Beans" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Beans" })).toBeVisible();
  await hydrated(page);
  const add = page.getByRole("form", { name: "Add task" });
  await add.getByLabel("Title").fill(title);
  await add.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("listitem", { name: title })).toBeVisible();
  return new URL(page.url()).pathname;
}

/** The stylesheet the open document names. */
async function stylesheet(page: Page) {
  return page.evaluate(() => document.querySelector('head link[rel="stylesheet"]')?.getAttribute("href"));
}

/**
 * Makes the open document name another stylesheet than the server now serves, as a tab opened
 * before a deploy does (built files carry content hashes). Returns the one served.
 */
async function openedBeforeADeploy(page: Page) {
  return page.evaluate(() => {
    const link = document.querySelector('head link[rel="stylesheet"]')!;
    const served = link.getAttribute("href")!;
    link.setAttribute("href", served.replace(/\.css$/, ".before-deploy.css"));
    return served;
  });
}

test.describe("a submit button's own address and method (JavaScript on)", () => {
  test("formaction sends the form to that server function instead, without a reload", async ({ page }) => {
    await projectWithTask(page, "Water the beans");
    // The row's done toggle gets a second button, which names another server function.
    await page.getByRole("button", { name: /^Mark done: Water the beans/ }).evaluate((toggle) => {
      const other = document.createElement("button");
      other.type = "submit";
      other.setAttribute("formaction", "/api/delete_task");
      other.textContent = "Delete instead";
      (toggle as HTMLButtonElement).form!.append(other);
    });
    await markPage(page);
    const deleted = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/delete_task");
    await page.getByRole("button", { name: "Delete instead" }).click();
    await deleted;
    await expect(page.getByRole("listitem", { name: "Water the beans" })).toHaveCount(0);
    expect(await samePage(page)).toBe(true);
  });

  test("formmethod=post sends a GET form as a post, without a reload", async ({ page }) => {
    await projectWithTask(page, "Pick the beans");
    // The row's Rename form (a GET that opens the rename field) gets a button that deletes.
    await page
      .getByRole("listitem", { name: "Pick the beans" })
      .getByRole("button", { name: "Rename" })
      .evaluate((rename) => {
        const button = rename as HTMLButtonElement;
        const other = document.createElement("button");
        other.type = "submit";
        other.setAttribute("formmethod", "post");
        other.setAttribute("formaction", "/api/delete_task");
        other.name = "id";
        other.value = button.value;
        other.textContent = "Delete from here";
        button.form!.append(other);
      });
    await markPage(page);
    const deleted = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/delete_task");
    await page.getByRole("button", { name: "Delete from here" }).click();
    await deleted;
    await expect(page.getByRole("listitem", { name: "Pick the beans" })).toHaveCount(0);
    expect(await samePage(page)).toBe(true);
  });

  test("formmethod=get follows a post form as a link and sends nothing", async ({ page }) => {
    const here = await projectWithTask(page, "Sow the beans");
    const add = page.getByRole("form", { name: "Add task" });
    // A filter button in the add form: it shows the done tasks instead of adding one.
    await add.evaluate((form, here) => {
      const other = document.createElement("button");
      other.type = "submit";
      other.setAttribute("formmethod", "get");
      other.setAttribute("formaction", here);
      other.name = "show";
      other.value = "done";
      other.textContent = "Show done tasks";
      form.append(other);
    }, here);
    await markPage(page);
    const posts = countPosts(page, "/api/add_task");
    await add.getByLabel("Title").fill("Not a new task");
    await add.getByRole("button", { name: "Show done tasks" }).click();
    await expect(page).toHaveURL(/[?&]show=done/);
    await expect(page.getByRole("link", { name: /^Done/ })).toHaveAttribute("aria-current", "true");
    await expect(page.getByRole("listitem", { name: "Sow the beans" })).toHaveCount(0);
    expect(posts.count).toBe(0);
    expect(await samePage(page)).toBe(true);
  });

  test("formmethod=dialog is left to the browser, which closes the dialog", async ({ page }) => {
    await visit(page, "/login");
    await page.evaluate(() => {
      const dialog = document.createElement("dialog");
      dialog.setAttribute("aria-label", "About logging in");
      dialog.innerHTML =
        '<form method="post" action="/api/login"><p>Use the email you registered with.</p>' +
        '<button type="submit" formmethod="dialog">Close</button></form>';
      document.querySelector("main")!.append(dialog);
      dialog.show();
    });
    const dialog = page.getByRole("dialog", { name: "About logging in" });
    await expect(dialog).toBeVisible();
    const posts = countPosts(page, "/api/login");
    await dialog.getByRole("button", { name: "Close" }).click();
    await expect(dialog).toBeHidden();
    expect(posts.count).toBe(0);
  });
});

test.describe("after a deploy, the open tab loads the new build (JavaScript on)", () => {
  test("a link followed from a page of the old build loads its page in full", async ({ page }) => {
    await visit(page, "/login");
    await markPage(page);
    const served = await openedBeforeADeploy(page);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Register" }).click();
    await expect(page).toHaveURL(/\/register$/);
    await expect(page.getByRole("heading", { level: 1, name: "Create an account" })).toBeVisible();
    await hydrated(page);
    expect(await samePage(page)).toBe(false);
    expect(await stylesheet(page)).toBe(served);
  });

  test("a form sent from a page of the old build is sent once and its answer loaded in full", async ({ page }) => {
    await register(page, newPerson("deploy"));
    await visit(page, "/projects");
    await markPage(page);
    const served = await openedBeforeADeploy(page);
    const posts = countPosts(page, "/api/create_project");
    await page.getByLabel("Name").fill("After the deploy");
    await page.getByRole("button", { name: "Create project" }).click();
    await expect(page.getByRole("link", { name: "After the deploy" })).toBeVisible();
    await hydrated(page);
    expect(await samePage(page)).toBe(false);
    expect(await stylesheet(page)).toBe(served);
    expect(posts.count).toBe(1);
    await expect(page.getByRole("listitem", { name: "After the deploy" })).toHaveCount(1);
  });

  test("without a deploy, a link still puts its page in place", async ({ page }) => {
    await visit(page, "/login");
    await markPage(page);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Register" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Create an account" })).toBeVisible();
    expect(await samePage(page)).toBe(true);
  });
});
