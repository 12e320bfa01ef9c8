import { test, expect, Page } from "@playwright/test";
import { hydrated, newPerson, register } from "./helpers";

async function createProject(page: Page, name: string, js: boolean) {
  await page.goto("/projects");
  if (js) await hydrated(page);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Description").fill("Things for the garden");
  await page.getByRole("button", { name: "Create project" }).click();
  const item = page.getByRole("listitem", { name });
  await expect(item).toBeVisible();
  await expect(item).toContainText("0 / 0 done");
  await item.getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  if (js) await hydrated(page);
}

async function addTask(page: Page, title: string) {
  const form = page.getByRole("form", { name: "Add task" });
  await form.getByLabel("Title").fill(title);
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(page.getByRole("listitem", { name: title })).toBeVisible();
}

async function deleteProject(page: Page, name: string) {
  await page.goto("/projects");
  await page.getByRole("listitem", { name }).getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("heading", { name: `Delete “${name}”?` })).toBeVisible();
  await page.getByRole("button", { name: "Yes, delete project" }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await expect(page.getByRole("listitem", { name })).toHaveCount(0);
}

test("projects and tasks with JavaScript on", async ({ page }) => {
  await register(page, newPerson("proj"));
  await createProject(page, "Garden", true);
  for (const title of ["Dig beds", "Plant tomatoes", "Water daily"]) {
    await addTask(page, title);
  }
  const tasks = page.getByRole("list", { name: "Tasks" }).getByRole("listitem");
  await expect(tasks).toHaveCount(3);
  await expect(tasks.nth(0)).toContainText("Dig beds");

  await page.getByRole("listitem", { name: "Dig beds" }).getByRole("button", { name: "Mark done" }).click();
  await expect(page.getByRole("listitem", { name: "Dig beds" }).getByRole("button", { name: "Mark not done" })).toBeVisible();

  await page.getByRole("listitem", { name: "Plant tomatoes" }).getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("New title").fill("Plant basil");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("listitem", { name: "Plant basil" })).toBeVisible();
  await expect(page.getByRole("listitem", { name: "Plant tomatoes" })).toHaveCount(0);

  await page.getByRole("listitem", { name: "Water daily" }).getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("listitem", { name: "Water daily" })).toHaveCount(0);
  await expect(tasks).toHaveCount(2);

  await page.goto("/projects");
  await expect(page.getByRole("listitem", { name: "Garden" })).toContainText("1 / 2 done");
  await hydrated(page);
  await deleteProject(page, "Garden");
});

test("a bad task title is explained", async ({ page }) => {
  await register(page, newPerson("proj"));
  await createProject(page, "Kitchen", true);
  const form = page.getByRole("form", { name: "Add task" });
  await form.getByLabel("Title").fill("   ");
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(form.getByRole("alert")).toHaveText("Give the task a title.");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("create a project, complete a task, delete it all", async ({ page }) => {
    await register(page, newPerson("nojsproj"), false);
    await createProject(page, "Attic", false);
    await addTask(page, "Sort boxes");
    await addTask(page, "Sweep");
    await page.getByRole("listitem", { name: "Sort boxes" }).getByRole("button", { name: "Mark done" }).click();
    await expect(page.getByRole("listitem", { name: "Sort boxes" }).getByRole("button", { name: "Mark not done" })).toBeVisible();
    await page.getByRole("listitem", { name: "Sweep" }).getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("listitem", { name: "Sweep" })).toHaveCount(0);
    await page.goto("/projects");
    await expect(page.getByRole("listitem", { name: "Attic" })).toContainText("1 / 1 done");
    await deleteProject(page, "Attic");
  });
});

test("another person's project is a 404", async ({ page, browser }) => {
  await register(page, newPerson("owner"));
  await createProject(page, "Private", true);
  const url = page.url();
  const context = await browser.newContext();
  const intruder = await context.newPage();
  await register(intruder, newPerson("intruder"));
  const response = await intruder.goto(url);
  expect(response?.status()).toBe(404);
  await expect(intruder.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await context.close();
});
